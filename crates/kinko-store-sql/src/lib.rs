//! The SQL the SQL stores (`kinko-store-sqlite`, `kinko-store-postgres`) answer a secret
//! listing's filters with: one builder from the filters' conditions
//! ([`kinko_core::filters::conditions`]), told the store's [`Dialect`].
//!
//! Pure: it writes SQL text and its parameters and runs nothing. Depends on `kinko-core` (the
//! filters) only; the stores depend on it, never the other way round.
//!
//! The SQL reads `secrets` as `s` and its `secret_terms (secret_id, kind, attribute, term)`, and
//! needs names and terms compared in code point order (SQLite's `BINARY`, PostgreSQL's
//! `COLLATE "C"`): a prefix is a range (see [`filters::prefix_upper_bound`]), never a `LIKE`, so
//! no character of a value is special. Case needs nothing here either: the terms the filters
//! search case-insensitively are kept lowercased, and the conditions are lowercased to match.
//!
//! However long its values, a listing binds few parameters: a filter value binds at most nine
//! (its condition's first four prefixes as ranges, and the others together as one JSON array),
//! so the largest filters ListSecrets accepts (10 filters of 10 values, each value up to 512
//! characters and so up to 256 words) bind at most 900, far below SQLite's 32,766 and
//! PostgreSQL's 65,535 parameters a statement.

use kinko_core::filters::{self, Clause, Condition, Filter, TermKind};
use serde_json::Value;

/// How many of a condition's prefixes are index ranges of their own (two parameters each): as
/// many words as a search usually has. With them PostgreSQL can start from the terms
/// (`secret_terms_by_term`) when few secrets have them, rather than look at every secret; the
/// other prefixes are one JSON parameter, looked for per secret.
const RANGES: usize = 4;

/// The SQL dialect of a store: what differs between the two in the filters' SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Parameters `$1`, `$2`…; JSON through `jsonb`.
    Postgres,
    /// Parameters `?1`, `?2`…; JSON through `json_each`.
    Sqlite,
}

impl Dialect {
    /// The `n`th parameter (from 1).
    fn placeholder(self, n: usize) -> String {
        match self {
            Self::Postgres => format!("${n}"),
            Self::Sqlite => format!("?{n}"),
        }
    }

    /// A row for each element of the JSON array (text) in `param`, as `alias.value`.
    fn json_elements(self, param: &str, alias: &str) -> String {
        match self {
            // `::text` first: the parameter is bound as text, which the client can send as is.
            Self::Postgres => format!("jsonb_array_elements({param}::text::jsonb) AS {alias} (value)"),
            Self::Sqlite => format!("json_each({param}) AS {alias}"),
        }
    }
}

/// A secret listing's filters as SQL: [`FilterSql::sql`] to append to the `WHERE` of a query on
/// `secrets s`, with [`FilterSql::params`] bound after the caller's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterSql {
    /// ` AND (…)` for each filter; empty without filters.
    pub sql: String,
    /// The text parameters the SQL names, in order: the first is number `first_param + 1`.
    pub params: Vec<String>,
    dialect: Dialect,
    first_param: usize,
    /// Whether a name range may use the names' index ([`FilterSql::with_name_index`]).
    name_index: bool,
}

impl FilterSql {
    /// The SQL of `filters` in `dialect`, its parameters numbered after the caller's
    /// `first_param`.
    pub fn new(dialect: Dialect, filters: &[Filter], first_param: usize) -> FilterSql {
        Self::with_name_index(dialect, filters, first_param, true)
    }

    /// [`FilterSql::new`]; without `name_index`, a name prefix is written so that SQLite does not
    /// answer it from the names' index (`+s.name`): for a listing that walks another order's
    /// index, where a range over many names would make it read and sort them all.
    pub fn with_name_index(
        dialect: Dialect,
        filters: &[Filter],
        first_param: usize,
        name_index: bool,
    ) -> FilterSql {
        let mut f = FilterSql {
            sql: String::new(),
            params: Vec::new(),
            dialect,
            first_param,
            name_index,
        };
        for clauses in filters::conditions(filters) {
            let ors: Vec<String> = clauses.iter().map(|clause| f.clause(clause)).collect();
            let any = if ors.is_empty() {
                "FALSE".to_owned()
            } else {
                ors.join(" OR ")
            };
            f.sql.push_str(&format!(" AND ({any})"));
        }
        f
    }

    fn param(&mut self, value: String) -> String {
        self.params.push(value);
        self.dialect.placeholder(self.first_param + self.params.len())
    }

    fn clause(&mut self, clause: &Clause) -> String {
        let condition = self.condition(&clause.condition);
        if clause.negated {
            format!("NOT {condition}")
        } else {
            condition
        }
    }

    /// One condition, as a single operand (parenthesized, `EXISTS (…)` or a literal), so that
    /// `NOT` and `OR` apply to all of it.
    fn condition(&mut self, condition: &Condition) -> String {
        match condition {
            Condition::NamePrefix(p) => {
                let column = if self.name_index || self.dialect == Dialect::Postgres {
                    "s.name"
                } else {
                    "+s.name"
                };
                format!("({})", self.range(column, p))
            }
            Condition::Never => "FALSE".into(),
            Condition::TermPrefixes { kind, prefixes } => {
                // Each prefix may be found in a different term.
                if prefixes.is_empty() {
                    return "FALSE".into();
                }
                let (ranged, rest) = prefixes.split_at(prefixes.len().min(RANGES));
                let mut parts: Vec<String> = ranged
                    .iter()
                    .map(|p| {
                        let range = self.range("t.term", p);
                        format!("EXISTS (SELECT 1 FROM {} AND {range})", terms("t", *kind))
                    })
                    .collect();
                if !rest.is_empty() {
                    parts.push(self.every_prefix(*kind, rest, None));
                }
                format!("({})", parts.join(" AND "))
            }
            Condition::SearchPrefixes(words) => {
                // One attribute (`a`'s) has, for each prefix, a word starting with it.
                let Some((first, others)) = words.split_first() else {
                    return "FALSE".into();
                };
                let (ranged, rest) = others.split_at(others.len().min(RANGES - 1));
                let range = self.range("a.term", first);
                let mut sql = format!(
                    "EXISTS (SELECT 1 FROM {} AND {range}",
                    terms("a", TermKind::Search)
                );
                for (n, word) in ranged.iter().enumerate() {
                    let alias = format!("a{}", n + 1);
                    let range = self.range(&format!("{alias}.term"), word);
                    sql.push_str(&format!(
                        " AND EXISTS (SELECT 1 FROM {} AND {alias}.attribute = a.attribute AND {range})",
                        terms(&alias, TermKind::Search)
                    ));
                }
                if !rest.is_empty() {
                    sql.push_str(" AND ");
                    sql.push_str(&self.every_prefix(TermKind::Search, rest, Some("a.attribute")));
                }
                sql.push(')');
                sql
            }
        }
    }

    /// `column` starts with `prefix`, as a range an index can use.
    fn range(&mut self, column: &str, prefix: &str) -> String {
        let low = self.param(prefix.to_owned());
        match filters::prefix_upper_bound(prefix) {
            Some(high) => {
                let high = self.param(high);
                format!("{column} >= {low} AND {column} < {high}")
            }
            None => format!("{column} >= {low}"),
        }
    }

    /// For every one of `prefixes`, the secret has a term of `kind` (of the attribute
    /// `attribute` names, when given) starting with it: "no prefix lacks a term". The prefixes
    /// are one parameter, a JSON array of `[low, high]` ranges (`high` null where there is none),
    /// however many there are.
    fn every_prefix(&mut self, kind: TermKind, prefixes: &[String], attribute: Option<&str>) -> String {
        let ranges: Vec<Value> = prefixes
            .iter()
            .map(|p| {
                let high = filters::prefix_upper_bound(p).map_or(Value::Null, Value::String);
                Value::Array(vec![Value::String(p.clone()), high])
            })
            .collect();
        let param = self.param(Value::Array(ranges).to_string());
        let elements = self.dialect.json_elements(&param, "p");
        let same_attribute = attribute
            .map(|a| format!(" AND t.attribute = {a}"))
            .unwrap_or_default();
        format!(
            "NOT EXISTS (SELECT 1 FROM {elements} WHERE NOT EXISTS (SELECT 1 FROM {}{same_attribute} \
             AND t.term >= (p.value ->> 0) AND ((p.value ->> 1) IS NULL OR t.term < (p.value ->> 1))))",
            terms("t", kind)
        )
    }
}

/// How many secrets an index range may hold for a listing to start from it
/// ([`Candidates::sources`]): up to this many are read by id and ordered; beyond it the listing
/// walks the order's index instead, where that many matches are dense enough to fill a page soon.
pub const CANDIDATE_LIMIT: usize = 2000;

/// Where a filtered listing can start instead of walking every secret in order: for each filter
/// whose every value is a positive condition an index range answers (a name prefix, or the first
/// prefix of a term condition), the ids of the secrets in those ranges, a superset of the
/// secrets that filter passes. A listing takes the filter whose ranges hold the fewest secrets,
/// when they are at most [`CANDIDATE_LIMIT`]: it then reads only those secrets, checks the
/// filters on them and orders them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidates {
    /// For each such filter: `SELECT` of ids (a `UNION ALL` of its values' ranges, ids may
    /// repeat) and its parameters, numbered after `first_param`; the account and region are the
    /// caller's parameters 1 and 2.
    pub sources: Vec<(String, Vec<String>)>,
}

impl Candidates {
    /// The index ranges of `filters` (see [`Candidates`]), their parameters numbered after
    /// `first_param`.
    pub fn new(dialect: Dialect, filters: &[Filter], first_param: usize) -> Candidates {
        let sources = filters::conditions(filters)
            .iter()
            .filter_map(|clauses| candidate_source(dialect, clauses, first_param))
            .collect();
        Candidates { sources }
    }

    /// The statement that counts a source's ids, at most `limit + 1` of them (index ranges only,
    /// however many secrets they hold); its parameters are the account, the region (named even
    /// when the source has no use for them: PostgreSQL needs a type for every parameter), then
    /// the source's.
    pub fn count_sql(dialect: Dialect, source: &str, limit: usize) -> String {
        format!(
            "SELECT count(*) FROM ({source} LIMIT {}) AS c WHERE CAST({} AS TEXT) IS NOT NULL \
             AND CAST({} AS TEXT) IS NOT NULL",
            limit.saturating_add(1),
            dialect.placeholder(1),
            dialect.placeholder(2),
        )
    }
}

/// One filter's index ranges as a `SELECT` of ids, when every value of it is a positive
/// condition with an index range; `None` otherwise (a negated value, say, passes secrets no range
/// holds).
fn candidate_source(
    dialect: Dialect,
    clauses: &[Clause],
    first_param: usize,
) -> Option<(String, Vec<String>)> {
    let mut params = Vec::new();
    let mut parts = Vec::new();
    let range = |column: &str, prefix: &str, params: &mut Vec<String>| {
        params.push(prefix.to_owned());
        let low = dialect.placeholder(first_param + params.len());
        match filters::prefix_upper_bound(prefix) {
            Some(high) => {
                params.push(high);
                let high = dialect.placeholder(first_param + params.len());
                format!("{column} >= {low} AND {column} < {high}")
            }
            None => format!("{column} >= {low}"),
        }
    };
    for clause in clauses {
        if clause.negated {
            return None;
        }
        let (account, region) = (dialect.placeholder(1), dialect.placeholder(2));
        match &clause.condition {
            Condition::Never => {}
            Condition::NamePrefix(p) => {
                let range = range("n.name", p, &mut params);
                parts.push(format!(
                    "SELECT n.id FROM secrets n WHERE n.account_id = {account} AND n.region = {region} AND {range}"
                ));
            }
            Condition::TermPrefixes { kind, prefixes } => {
                let first = prefixes.first()?;
                let range = range("t.term", first, &mut params);
                parts.push(format!(
                    "SELECT t.secret_id FROM secret_terms t WHERE t.kind = '{}' AND {range}",
                    kind.code()
                ));
            }
            Condition::SearchPrefixes(words) => {
                let first = words.first()?;
                let range = range("t.term", first, &mut params);
                parts.push(format!(
                    "SELECT t.secret_id FROM secret_terms t WHERE t.kind = '{}' AND {range}",
                    TermKind::Search.code()
                ));
            }
        }
    }
    if parts.is_empty() {
        // Only values that match nothing: no secret passes, and no range holds one.
        parts.push(format!(
            "SELECT n.id FROM secrets n WHERE {}",
            match dialect {
                Dialect::Postgres => "FALSE",
                Dialect::Sqlite => "0",
            }
        ));
    }
    Some((parts.join(" UNION ALL "), params))
}

/// `secret_terms` as `alias`, with the condition that opens its `WHERE`: the terms of `kind` of
/// the secret `s`. The kind's code is a fixed letter, written into the SQL.
fn terms(alias: &str, kind: TermKind) -> String {
    format!(
        "secret_terms {alias} WHERE {alias}.secret_id = s.id AND {alias}.kind = '{}'",
        kind.code()
    )
}

#[cfg(test)]
mod tests {
    use kinko_core::filters::FilterKey;
    use kinko_store_contract::words_filling;

    use super::*;

    fn filter(key: FilterKey, values: &[&str]) -> Filter {
        Filter {
            key,
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        }
    }

    #[test]
    fn parameters_follow_the_callers_in_each_dialect() {
        let filters = [
            filter(FilterKey::Name, &["ab", "!"]),
            filter(FilterKey::TagKey, &["env"]),
        ];
        let sqlite = FilterSql::new(Dialect::Sqlite, &filters, 5);
        assert_eq!(
            sqlite.sql,
            " AND ((s.name >= ?6 AND s.name < ?7) OR NOT (s.name >= ?8)) AND ((EXISTS (SELECT 1 FROM \
             secret_terms t WHERE t.secret_id = s.id AND t.kind = 'k' AND t.term >= ?9 AND t.term < ?10)))"
        );
        assert_eq!(sqlite.params, ["ab", "ac", "", "env", "enw"]);
        let postgres = FilterSql::new(Dialect::Postgres, &filters, 5);
        assert_eq!(postgres.sql, sqlite.sql.replace('?', "$"));
        assert_eq!(postgres.params, sqlite.params);
    }

    #[test]
    fn listings_start_from_the_ranges_of_filters_without_negation() {
        let filters = [
            filter(FilterKey::Name, &["ab", "cd"]),
            filter(FilterKey::TagKey, &["env", "!x"]),
            filter(FilterKey::All, &["+"]),
            filter(FilterKey::Description, &["one two"]),
        ];
        let c = Candidates::new(Dialect::Sqlite, &filters, 9);
        assert_eq!(c.sources.len(), 3);
        assert_eq!(
            c.sources[0],
            (
                "SELECT n.id FROM secrets n WHERE n.account_id = ?1 AND n.region = ?2 AND n.name >= ?10 \
                 AND n.name < ?11 UNION ALL SELECT n.id FROM secrets n WHERE n.account_id = ?1 AND \
                 n.region = ?2 AND n.name >= ?12 AND n.name < ?13"
                    .to_owned(),
                vec!["ab".to_owned(), "ac".to_owned(), "cd".to_owned(), "ce".to_owned()]
            )
        );
        // A value without words matches nothing: so does its range.
        assert_eq!(c.sources[1].0, "SELECT n.id FROM secrets n WHERE 0");
        // One word of several: a superset.
        assert_eq!(
            c.sources[2].0,
            "SELECT t.secret_id FROM secret_terms t WHERE t.kind = 'd' AND t.term >= ?10 AND t.term < ?11"
        );
        assert_eq!(c.sources[2].1, ["one", "onf"]);
        let count = Candidates::count_sql(Dialect::Postgres, "SELECT 1", 2000);
        assert!(
            count.contains("LIMIT 2001) AS c WHERE CAST($1 AS TEXT)"),
            "{count}"
        );
        // Without a name index, SQLite is told not to use it; PostgreSQL has no such syntax.
        let name = [filter(FilterKey::Name, &["ab"])];
        assert!(
            FilterSql::with_name_index(Dialect::Sqlite, &name, 0, false)
                .sql
                .contains("+s.name >= ?1")
        );
        assert!(
            !FilterSql::with_name_index(Dialect::Postgres, &name, 0, false)
                .sql
                .contains('+')
        );
    }

    #[test]
    fn a_values_words_past_the_fourth_are_one_json_parameter() {
        // Up to four words: ranges only.
        let four = [filter(FilterKey::Description, &["a b c d"])];
        let f = FilterSql::new(Dialect::Sqlite, &four, 0);
        assert_eq!(f.params.len(), 8);
        assert!(!f.sql.contains("json_each"));
        // A prefix of only U+10FFFF has no upper bound: `null`.
        let six = [filter(FilterKey::All, &["app beta c d e \u{10FFFF}"])];
        let f = FilterSql::new(Dialect::Postgres, &six, 0);
        assert_eq!(f.params[..8], ["app", "apq", "beta", "betb", "c", "d", "d", "e"]);
        assert_eq!(f.params[8..], ["[[\"e\",\"f\"],[\"\u{10FFFF}\",null]]"]);
        let json = "jsonb_array_elements($9::text::jsonb) AS p (value)";
        assert!(f.sql.contains(json), "{}", f.sql);
        assert!(
            f.sql
                .contains("a3.attribute = a.attribute AND a3.term >= $7 AND a3.term < $8")
        );
        assert!(f.sql.contains("t.attribute = a.attribute"));
        let f = FilterSql::new(Dialect::Sqlite, &six, 0);
        assert!(f.sql.contains("json_each(?9) AS p"), "{}", f.sql);
    }

    #[test]
    fn the_largest_filters_bind_at_most_nine_parameters_a_value() {
        let values: Vec<String> = (0..10).map(|n| words_filling(n * 40, 512)).collect();
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        for key in [
            FilterKey::All,
            FilterKey::Description,
            FilterKey::Name,
            FilterKey::TagValue,
        ] {
            let filters: Vec<Filter> = (0..10).map(|_| filter(key, &values)).collect();
            for dialect in [Dialect::Sqlite, Dialect::Postgres] {
                let f = FilterSql::new(dialect, &filters, 5);
                assert!(f.params.len() <= 900, "{key:?}: {}", f.params.len());
            }
        }
    }
}
