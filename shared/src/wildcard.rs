//! Shell-style wildcards (`*` any run, `?` one character) for repository and tag patterns.

/// A set of include and exclude patterns. Empty includes mean "everything".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Patterns {
    include: Vec<String>,
    exclude: Vec<String>,
    /// A further include list that must also match (an invocation narrowing the configuration).
    narrow: Vec<String>,
}

impl Patterns {
    /// Names matching one of `include` (or any, when empty) and none of `exclude`.
    pub fn new(include: Vec<String>, exclude: Vec<String>) -> Self {
        Self {
            include,
            exclude,
            narrow: Vec::new(),
        }
    }

    /// These patterns, and also one of `narrow` (when not empty).
    pub fn narrowed(&self, narrow: &[String]) -> Self {
        Self {
            narrow: narrow.to_vec(),
            ..self.clone()
        }
    }

    /// Whether `name` is selected: included, in `narrow` when set, and not excluded.
    pub fn matches(&self, name: &str) -> bool {
        let any = |list: &[String]| list.iter().any(|p| matches(p, name));
        (self.include.is_empty() || any(&self.include))
            && (self.narrow.is_empty() || any(&self.narrow))
            && !any(&self.exclude)
    }
}

/// Whether `name` matches `pattern`. Iterative with backtracking to the last `*` only, so it
/// runs in O(len(pattern) × len(name)) at worst.
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(matches("web-*", "web-app"));
        assert!(matches("web-*", "web-"));
        assert!(!matches("web-*", "api-web-app"));
        assert!(matches("*-prod", "billing-prod"));
        assert!(matches("a?c", "abc"));
        assert!(!matches("a?c", "ac"));
        assert!(matches("*", ""));
        assert!(matches("v1.*.*", "v1.2.3"));
        assert!(matches("*a*b*c*", "xxaxxbxxcxx"));
        assert!(!matches("*a*b*c*", "xxaxxcxxbxx"));
        assert!(matches("exact", "exact") && !matches("exact", "exactly"));
    }

    #[test]
    fn include_exclude() {
        let p = Patterns::new(vec!["web-*".into(), "api".into()], vec!["*-sandbox".into()]);
        assert!(p.matches("web-app") && p.matches("api"));
        assert!(!p.matches("web-sandbox") && !p.matches("worker"));
        assert!(Patterns::default().matches("anything"));
        let narrowed = p.narrowed(&["web-*".into()]);
        assert!(narrowed.matches("web-app") && !narrowed.matches("api") && !narrowed.matches("web-sandbox"));
    }
}
