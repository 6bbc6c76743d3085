//! [`Tokens`]: the API tokens a service accepts and the principal behind each.

use std::collections::HashMap;

use serde::Deserialize;

use crate::access::{Principal, Role};
use crate::id::ResellerId;
use crate::serde::object::read_from_object;

/// The API tokens the service accepts, each standing for a [`Principal`] (a role and,
/// for the reseller roles, the user's reseller).
///
/// The file `resellers serve --tokens FILE` reads, and [`Tokens::from_json`] parses:
///
/// ```json
/// {"tokens": [
///   {"token": "G2dYuBK44dgYu90id1122e", "role": "RESELLER_ADMIN", "reseller": "1"},
///   {"token": "support-desk", "role": "ADMIN"},
///   {"token": "shop-17", "role": "RESELLER", "reseller": 17}
/// ]}
/// ```
///
/// `role` is any role name (unknown roles are refused by the access rules, as in the
/// engine), `reseller` a string or an integer id and optional. Requests carry a token
/// as `Authorization: Bearer TOKEN` or `X-Api-Token: TOKEN`.
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::http::Tokens;
/// use reseller_hierarchy::Role;
///
/// let tokens = Tokens::from_json(r#"{"tokens": [{"token": "t1", "role": "ADMIN"}]}"#)?;
/// assert_eq!(tokens.get("t1").unwrap().role, Role::Admin);
/// assert!(tokens.get("t2").is_none());
/// assert!(Tokens::from_json(r#"{"tokens": [{"token": "", "role": "ADMIN"}]}"#).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Tokens {
    by_token: HashMap<String, Principal>,
}

/// The file: an object (`read_from_object!`, as records are read).
#[derive(Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
struct File {
    tokens: Vec<Entry>,
}

read_from_object!(File, "a token file");

/// One token: an object.
#[derive(Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
struct Entry {
    token: String,
    role: String,
    #[serde(default)]
    reseller: Option<ResellerId>,
}

read_from_object!(Entry, "a token entry");

/// Why a token file was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokensError {
    message: String,
}

impl std::fmt::Display for TokensError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bad token file: {}", self.message)
    }
}

impl std::error::Error for TokensError {}

impl Tokens {
    /// Parses a token file (see the type's docs).
    ///
    /// # Errors
    ///
    /// [`TokensError`] naming what is wrong: not JSON of that shape, an empty token, a
    /// token no request can send (white space at either end, or a character other than
    /// visible ASCII, space and tab), a token given twice.
    pub fn from_json(text: &str) -> Result<Tokens, TokensError> {
        let file: File = serde_json::from_str(text).map_err(|e| TokensError {
            message: e.to_string(),
        })?;
        let mut by_token = HashMap::with_capacity(file.tokens.len());
        for (i, e) in file.tokens.into_iter().enumerate() {
            if e.token.is_empty() {
                return Err(TokensError {
                    message: format!("token {i} is empty"),
                });
            }
            // What a caller's header can carry, after the trimming it gets: anything
            // else would load and never match, locking its caller out unannounced.
            if e.token.trim() != e.token {
                return Err(TokensError {
                    message: format!(
                        "token {i} has white space at either end: no request can send it"
                    ),
                });
            }
            if !e
                .token
                .bytes()
                .all(|b| (b' '..0x7f).contains(&b) || b == b'\t')
            {
                return Err(TokensError {
                    message: format!(
                        "token {i} holds a character a header cannot carry as text (only \
                         visible ASCII, space and tab): no request can send it"
                    ),
                });
            }
            let role: Role = e.role.parse().unwrap_or_else(|never| match never {});
            let principal = Principal {
                role,
                reseller: e.reseller,
            };
            if by_token.insert(e.token, principal).is_some() {
                return Err(TokensError {
                    message: format!("token {i} is given twice"),
                });
            }
        }
        Ok(Tokens { by_token })
    }

    /// The demo's tokens: the seed page's token for a `RESELLER_ADMIN` of the
    /// distributor `"1"`, `admin-demo` for an `ADMIN`, `reseller-2-demo` for a
    /// `RESELLER` of `"2"`. For trying the service on the demo data, never for real
    /// data.
    pub fn demo() -> Tokens {
        let by_token = [
            (
                "G2dYuBK44dgYu90id1122e",
                Principal::new(Role::ResellerAdmin, "1"),
            ),
            ("admin-demo", Principal::admin()),
            ("reseller-2-demo", Principal::new(Role::Reseller, "2")),
        ]
        .into_iter()
        .map(|(t, p)| (t.to_owned(), p))
        .collect();
        Tokens { by_token }
    }

    /// The principal behind `token`, if the token is known.
    pub fn get(&self, token: &str) -> Option<&Principal> {
        self.by_token.get(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_and_the_file_are_objects_not_arrays() {
        for text in [
            r#"{"tokens": [["t1", "ADMIN"]]}"#,
            r#"{"tokens": [["t1", "RESELLER", "7"]]}"#,
            r#"[[{"token": "t1", "role": "ADMIN"}]]"#,
        ] {
            let got = Tokens::from_json(text);
            assert!(got.is_err(), "{text} read as {got:?}");
        }
        let tokens = Tokens::from_json(
            r#"{"tokens": [{"token": "t1", "role": "RESELLER", "reseller": 7}]}"#,
        )
        .unwrap();
        assert_eq!(
            tokens
                .get("t1")
                .unwrap()
                .reseller
                .as_ref()
                .map(|r| r.as_str()),
            Some("7")
        );
    }

    #[test]
    fn tokens_no_request_can_send_are_refused() {
        for token in [" t1", "t1\n", "   ", "t\u{e9}", "t\u{7f}", "a\rb"] {
            let text = serde_json::json!({"tokens": [{"token": token, "role": "ADMIN"}]});
            let got = Tokens::from_json(&text.to_string());
            let message = got.expect_err(token).to_string();
            assert!(message.contains("no request can send it"), "{message}");
        }
        // Inner space and tab come through a header and its trimming.
        for token in ["a b", "a\tb", "~!*"] {
            let text = serde_json::json!({"tokens": [{"token": token, "role": "ADMIN"}]});
            assert!(Tokens::from_json(&text.to_string())
                .unwrap()
                .get(token)
                .is_some());
        }
    }
}
