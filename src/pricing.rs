//! Turning the cost options into a price for this machine and budgets, with clear errors.

use tradeoff_ir::Error;
use tradeoff_report::cost::{self, Budgets, Catalog, Slo};

use crate::cli::{BudgetArgs, PriceArgs};

/// This machine's price and the budgets, checked before any long work.
pub struct Pricing {
    pub instance: Option<String>,
    pub usd_per_hour: Option<f64>,
    pub utilization: f64,
    /// The share of each instance's server capacity kept free (`--headroom`).
    pub headroom: f64,
    pub budgets: Budgets,
    pub tolerance: f64,
    pub warnings: Vec<String>,
}

/// `512MiB`, `2GB`, `1.5GiB`, `1000000` into bytes.
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| c.is_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let v: f64 = num.trim().parse().ok()?;
    let scale = match unit.trim() {
        "" | "B" => 1.0,
        "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    (v.is_finite() && v > 0.0).then_some((v * scale) as u64)
}

/// The value of a size option (`--max-memory`, `--memory-limit`), or the error naming it.
pub fn size_option(option: &str, text: &str) -> Result<u64, Error> {
    parse_size(text).ok_or_else(|| {
        Error::option(
            option,
            text,
            "must be a positive size such as 512MiB, 2GB or a byte count",
        )
    })
}

/// Days since 1970-01-01, today (UTC).
pub fn today() -> i64 {
    (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        / 86_400) as i64
}

/// The price catalog of `--prices FILE`, or the shipped one, with the name errors give it.
pub fn catalog(prices: Option<&std::path::Path>) -> Result<(String, Catalog), Error> {
    let (file, text) = match prices {
        Some(p) => (
            p.display().to_string(),
            std::fs::read_to_string(p).map_err(|e| Error::read(p, e))?,
        ),
        None => (
            "prices.toml (shipped)".to_string(),
            cost::DEFAULT_PRICES.to_string(),
        ),
    };
    let catalog = Catalog::parse(&text, &file)
        .map_err(|e| Error::option("--prices", file.as_str(), e.to_string()))?;
    Ok((file, catalog))
}

/// This machine's price label and $/hour from `--instance` (catalog) or `--usd-per-hour`.
fn machine_price(
    price: &PriceArgs,
    warnings: &mut Vec<String>,
) -> Result<(Option<String>, Option<f64>), Error> {
    let (file, catalog) = catalog(price.prices.as_deref())?;
    Ok(match (&price.instance, price.usd_per_hour) {
        (Some(name), _) => {
            let p = catalog
                .find(name, &file)
                .map_err(|e| Error::option("--instance", name.as_str(), e.to_string()))?;
            if let Some(w) = cost::staleness(p, today()) {
                warnings.push(w);
            }
            (Some(p.name.clone()), Some(p.usd_per_hour))
        }
        (None, Some(usd)) => {
            if !(usd > 0.0 && usd.is_finite()) {
                return Err(Error::option(
                    "--usd-per-hour",
                    usd.to_string(),
                    "must be positive",
                ));
            }
            (Some(format!("${usd}/h (given)")), Some(usd))
        }
        (None, None) => (None, None),
    })
}

impl Pricing {
    /// With `price`, this machine's price comes from the options; without (a merge), prices
    /// come from the records.
    pub fn new(price: Option<&PriceArgs>, args: &BudgetArgs) -> Result<Pricing, Error> {
        let mut warnings = Vec::new();
        let dur = |opt: &str, v: &Option<String>| -> Result<Option<f64>, Error> {
            v.as_deref()
                .map(|t| {
                    cost::parse_duration_ns(t).ok_or_else(|| {
                        Error::option(
                            opt,
                            t,
                            "must be a positive duration such as 5ms, 250us, 800ns or 1.5s",
                        )
                    })
                })
                .transpose()
        };
        let slo = Slo {
            p99_ns: dur("--slo-p99", &args.slo_p99)?,
            p50_ns: dur("--slo-p50", &args.slo_p50)?,
        };
        let utilization = price.map_or(cost::DEFAULT_UTILIZATION, |p| p.utilization);
        if !(utilization > 0.0 && utilization <= 1.0) {
            return Err(Error::option(
                "--utilization",
                utilization.to_string(),
                "must be in (0, 1]",
            ));
        }
        if !(args.tolerance >= 0.0 && args.tolerance.is_finite()) {
            return Err(Error::option(
                "--tolerance",
                args.tolerance.to_string(),
                "must be a non-negative number",
            ));
        }
        let max_memory_bytes = args
            .max_memory
            .as_deref()
            .map(|t| size_option("--max-memory", t))
            .transpose()?;
        if let Some(m) = args.max_cost_per_million {
            if !(m > 0.0 && m.is_finite()) {
                return Err(Error::option(
                    "--max-cost-per-million",
                    m.to_string(),
                    "must be positive",
                ));
            }
        }
        let (instance, usd_per_hour) = match price {
            Some(price) => machine_price(price, &mut warnings)?,
            None => (None, None),
        };
        if price.is_some() && usd_per_hour.is_none() && args.max_cost_per_million.is_some() {
            return Err(Error::option(
                "--max-cost-per-million",
                args.max_cost_per_million.unwrap_or_default().to_string(),
                "needs a price: --instance NAME or --usd-per-hour X",
            ));
        }
        let headroom = tradeoff_report::serving::check_headroom(args.headroom)?;
        Ok(Pricing {
            instance,
            usd_per_hour,
            utilization,
            headroom,
            budgets: Budgets {
                slo,
                max_memory_bytes,
                max_usd_per_million: args.max_cost_per_million,
            },
            tolerance: args.tolerance,
            warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        assert_eq!(super::parse_size("512MiB"), Some(512 * 1024 * 1024));
        assert_eq!(super::parse_size("2GB"), Some(2_000_000_000));
        assert_eq!(super::parse_size("1000"), Some(1000));
        assert_eq!(super::parse_size("lots"), None);
    }
}
