//! Which layers to fetch: globs, regexes, keyword groups and media types over a layer's file
//! name, compiled once per run.

use regex::{Regex, RegexBuilder};

use crate::error::{Error, ErrorKind};

/// Layer filters. Empty lists select everything.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Filter {
    /// Any may match.
    pub globs: Vec<String>,
    /// All must match.
    pub regexes: Vec<String>,
    /// Each group must have a keyword in the name.
    pub include: Vec<Vec<String>>,
    /// No group may have a keyword in the name.
    pub exclude: Vec<Vec<String>>,
    /// Layer media types (globs); any may match.
    pub media_types: Vec<String>,
    /// Match names and keywords case-sensitively (default: not).
    pub case_sensitive: bool,
}

/// A [`Filter`] with its patterns compiled.
#[derive(Debug)]
pub struct Compiled {
    globs: Vec<glob::Pattern>,
    regexes: Vec<Regex>,
    include: Vec<Vec<String>>,
    exclude: Vec<Vec<String>>,
    media_types: Vec<glob::Pattern>,
    case_sensitive: bool,
}

impl Filter {
    /// Whether no filter was given (everything is selected).
    pub fn is_empty(&self) -> bool {
        self.globs.is_empty()
            && self.regexes.is_empty()
            && self.include.is_empty()
            && self.exclude.is_empty()
            && self.media_types.is_empty()
    }

    /// Compile the patterns; a bad glob or regex is a usage error naming it.
    pub fn compile(&self) -> Result<Compiled, Error> {
        let glob = |g: &String| {
            glob::Pattern::new(g)
                .map_err(|e| Error::new(ErrorKind::Usage, format!("invalid glob {g:?}: {e}")))
        };
        let fold = |v: &Vec<Vec<String>>| -> Vec<Vec<String>> {
            v.iter()
                .map(|g| {
                    g.iter()
                        .filter(|k| !k.is_empty())
                        .map(|k| if self.case_sensitive { k.clone() } else { k.to_lowercase() })
                        .collect::<Vec<_>>()
                })
                .filter(|g| !g.is_empty())
                .collect()
        };
        Ok(Compiled {
            globs: self.globs.iter().map(glob).collect::<Result<_, _>>()?,
            regexes: self
                .regexes
                .iter()
                .map(|r| {
                    RegexBuilder::new(r).case_insensitive(!self.case_sensitive).build().map_err(
                        |e| {
                            let first =
                                e.to_string().lines().last().unwrap_or("").trim().to_owned();
                            Error::new(ErrorKind::Usage, format!("invalid regex {r:?}: {first}"))
                        },
                    )
                })
                .collect::<Result<_, _>>()?,
            include: fold(&self.include),
            exclude: fold(&self.exclude),
            media_types: self.media_types.iter().map(glob).collect::<Result<_, _>>()?,
            case_sensitive: self.case_sensitive,
        })
    }
}

impl Compiled {
    /// Whether a layer named `name` with `media_type` is selected.
    pub fn matches(&self, name: &str, media_type: &str) -> bool {
        let opts = glob::MatchOptions {
            case_sensitive: self.case_sensitive,
            require_literal_separator: false,
            require_literal_leading_dot: false,
        };
        let folded = if self.case_sensitive { name.to_owned() } else { name.to_lowercase() };
        (self.globs.is_empty() || self.globs.iter().any(|g| g.matches_with(name, opts)))
            && self.regexes.iter().all(|r| r.is_match(name))
            && self.include.iter().all(|g| g.iter().any(|k| folded.contains(k.as_str())))
            && !self.exclude.iter().any(|g| g.iter().any(|k| folded.contains(k.as_str())))
            && (self.media_types.is_empty()
                || self.media_types.iter().any(|g| g.matches_with(media_type, opts)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(build: impl FnOnce(&mut Filter)) -> Compiled {
        let mut filter = Filter::default();
        build(&mut filter);
        filter.compile().unwrap()
    }

    const NAMES: [&str; 5] = [
        "app-linux-x86_64.tar.gz",
        "app-linux-aarch64.tar.gz",
        "app-darwin-arm64.zip",
        "README.md",
        "sub/Checksums.TXT",
    ];

    fn pick(c: &Compiled) -> Vec<&'static str> {
        NAMES.iter().copied().filter(|n| c.matches(n, "application/octet-stream")).collect()
    }

    #[test]
    fn filter_table() {
        assert_eq!(pick(&f(|_| {})).len(), 5);
        assert_eq!(pick(&f(|x| x.globs = vec!["*.tar.gz".into()])), [NAMES[0], NAMES[1]]);
        assert_eq!(
            pick(&f(|x| x.globs = vec!["*.zip".into(), "readme*".into()])),
            [NAMES[2], NAMES[3]]
        );
        assert_eq!(pick(&f(|x| x.globs = vec!["*checksums*".into()])), [NAMES[4]], "* crosses /");
        assert_eq!(pick(&f(|x| x.regexes = vec!["linux".into(), "x86".into()])), [NAMES[0]]);
        assert_eq!(
            pick(
                &f(|x| x.include = vec![vec!["linux".into()], vec!["arm".into(), "aarch".into()]])
            ),
            [NAMES[1]]
        );
        assert_eq!(
            pick(&f(|x| x.exclude = vec![vec!["linux".into()], vec!["readme".into()]])),
            [NAMES[2], NAMES[4]]
        );
        assert_eq!(
            pick(&f(|x| {
                x.globs = vec!["readme*".into()];
                x.case_sensitive = true;
            })),
            Vec::<&str>::new()
        );
        assert_eq!(
            pick(&f(|x| {
                x.include = vec![vec!["TXT".into()]];
                x.case_sensitive = true;
            })),
            [NAMES[4]]
        );
        let c = f(|x| x.media_types = vec!["application/vnd.oci.image.layer.*".into()]);
        assert!(c.matches("a", "application/vnd.oci.image.layer.v1.tar+gzip"));
        assert!(!c.matches("a", "application/octet-stream"));
    }

    #[test]
    fn bad_patterns_are_usage_errors() {
        let e = Filter { globs: vec!["[".into()], ..Default::default() }.compile().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Usage);
        let e = Filter { regexes: vec!["(".into()], ..Default::default() }.compile().unwrap_err();
        assert!(e.to_string().starts_with("invalid regex \"(\""), "{e}");
    }
}
