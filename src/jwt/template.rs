//! A scoped signing key's template expanded for one user, as nats-server's
//! `processUserPermissionsTemplate` expands it at login: in the `pub` and `sub` allow and
//! deny lists, `{{name()}}`, `{{subject()}}`, `{{account-name()}}`, `{{account-subject()}}`,
//! `{{tag(key)}}` and `{{account-tag(key)}}` become the user's values. A tag may have many
//! values (`key:a`, `key:b`): each subject is then written once per combination.
//!
//! An allow entry that does not expand to a valid subject is dropped (and an allow list
//! emptied that way denies everything); a deny entry that does not is an error, as is an
//! unknown operation: the login is refused rather than granted more than the template
//! meant.

use super::claims::{Permission, UserPermissionLimits};

/// nats-server's `maxPermTemplateSubjectExpansions`.
const MAX_EXPANSIONS: usize = 4096;

/// Why a template cannot be expanded for a user (nats-server's texts).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template operation in {entry:?}: {op:?} is not defined")]
    Unknown { entry: String, op: String },
    #[error("generated invalid subject {entry:?}: {key:?} is not defined")]
    MissingTag { entry: String, key: String },
    #[error("generated invalid subject")]
    InvalidSubject,
    #[error("template expansion exceeds limit: {MAX_EXPANSIONS}")]
    TooMany,
}

/// What the placeholders stand for.
#[derive(Debug, Clone, Copy)]
struct Values<'a> {
    /// The user JWT's `name`, `sub`, `nats.tags` and `nats.issuer_account`.
    name: &'a str,
    subject: &'a str,
    tags: &'a [String],
    issuer_account: &'a str,
    /// The account JWT's `name` and `nats.tags`.
    account_name: &'a str,
    account_tags: &'a [String],
}

/// `template` with its placeholders expanded for the user of the given claims; the
/// account's `name` and `tags` come from its JWT.
pub fn expand_user_template(
    template: &UserPermissionLimits,
    user: &super::Claims<super::User>,
    account_name: &str,
    account_tags: &[String],
) -> Result<UserPermissionLimits, TemplateError> {
    let values = Values {
        name: &user.data.name,
        subject: &user.data.subject,
        tags: &user.nats.tags,
        issuer_account: &user.nats.issuer_account,
        account_name,
        account_tags,
    };
    let mut out = template.clone();
    let perms = &mut out.permissions;
    let sub_allow_set = !perms.subscribe.allow.is_empty();
    let pub_allow_set = !perms.publish.allow.is_empty();
    // nats-server's order: sub allow, sub deny, pub allow, pub deny.
    expand_permission(&mut perms.subscribe, &values)?;
    expand_permission(&mut perms.publish, &values)?;
    // An allow list that expanded to nothing must not turn into "everything allowed".
    if sub_allow_set && perms.subscribe.allow.is_empty() {
        add_unique(&mut perms.subscribe.deny, ">");
    }
    if pub_allow_set && perms.publish.allow.is_empty() {
        add_unique(&mut perms.publish.deny, ">");
    }
    Ok(out)
}

fn expand_permission(p: &mut Permission, values: &Values<'_>) -> Result<(), TemplateError> {
    p.allow = expand_list(&p.allow, values, false)?;
    p.deny = expand_list(&p.deny, values, true)?;
    Ok(())
}

fn add_unique(list: &mut Vec<String>, subject: &str) {
    if !list.iter().any(|s| s == subject) {
        list.push(subject.to_string());
    }
}

/// The `{{...}}` placeholders of `entry`, as nats-server's `{{2}([^}]+)}{2}` finds them:
/// each as written (to replace) and its operation, trimmed.
fn placeholders(entry: &str) -> Vec<(&str, &str)> {
    let mut found = Vec::new();
    let bytes = entry.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] != b'{' || bytes[i + 1] != b'{' {
            i += 1;
            continue;
        }
        let inner_start = i + 2;
        let inner_len = bytes[inner_start..]
            .iter()
            .position(|&b| b == b'}')
            .unwrap_or(bytes.len() - inner_start);
        let close = inner_start + inner_len;
        if inner_len > 0 && bytes.get(close + 1) == Some(&b'}') {
            let whole = &entry[i..close + 2];
            found.push((whole, entry[inner_start..close].trim()));
            i = close + 2;
        } else {
            i += 1;
        }
    }
    found
}

/// `tag(key)` or `account-tag(key)` (case-insensitive names): whether it is the account's
/// and the key.
fn tag_op(op: &str) -> Option<(bool, &str)> {
    let lower = op.to_ascii_lowercase();
    let (account, prefix_len) = if lower.starts_with("tag(") {
        (false, 4)
    } else if lower.starts_with("account-tag(") {
        (true, 12)
    } else {
        return None;
    };
    let key = op.get(prefix_len..)?.strip_suffix(')')?;
    Some((account, key))
}

fn expand_list(
    list: &[String],
    values: &Values<'_>,
    fail_on_bad_subject: bool,
) -> Result<Vec<String>, TemplateError> {
    if !list.iter().any(|e| !placeholders(e).is_empty()) {
        return Ok(list.to_vec());
    }
    let mut emitted: Vec<String> = Vec::with_capacity(list.len());
    for entry in list {
        let found = placeholders(entry);
        let mut choices: Vec<Vec<String>> = Vec::with_capacity(found.len());
        for (_, op) in &found {
            let one = |v: &str| vec![v.to_string()];
            let values = if op.eq_ignore_ascii_case("name()") {
                one(values.name)
            } else if op.eq_ignore_ascii_case("subject()") {
                one(values.subject)
            } else if op.eq_ignore_ascii_case("account-name()") {
                one(values.account_name)
            } else if op.eq_ignore_ascii_case("account-subject()") {
                one(values.issuer_account)
            } else if let Some((account, key)) = tag_op(op) {
                let tags = if account {
                    values.account_tags
                } else {
                    values.tags
                };
                let prefix = format!("{}:", key.to_lowercase());
                let matching: Vec<String> = tags
                    .iter()
                    .filter_map(|t| t.strip_prefix(&prefix).map(str::to_string))
                    .collect();
                if !matching.is_empty() {
                    matching
                } else if fail_on_bad_subject {
                    return Err(TemplateError::MissingTag {
                        entry: entry.clone(),
                        key: key.to_string(),
                    });
                } else {
                    // A subject with a space is never valid: the entry is dropped below.
                    one(" ")
                }
            } else {
                return Err(TemplateError::Unknown {
                    entry: entry.clone(),
                    op: op.to_string(),
                });
            };
            choices.push(values);
        }
        let mut combinations = 1usize;
        for c in &choices {
            combinations = combinations
                .checked_mul(c.len())
                .filter(|n| *n <= MAX_EXPANSIONS)
                .ok_or(TemplateError::TooMany)?;
        }
        if emitted.len() + combinations > MAX_EXPANSIONS {
            return Err(TemplateError::TooMany);
        }
        // Every combination, the last placeholder's values varying fastest.
        let mut index = vec![0usize; choices.len()];
        for _ in 0..combinations {
            let mut subject = entry.clone();
            for (n, (whole, _)) in found.iter().enumerate() {
                subject = subject.replace(whole, &choices[n][index[n]]);
            }
            if is_valid_subject(&subject) {
                emitted.push(subject);
            } else if fail_on_bad_subject {
                return Err(TemplateError::InvalidSubject);
            }
            for n in (0..index.len()).rev() {
                index[n] += 1;
                if index[n] < choices[n].len() {
                    break;
                }
                index[n] = 0;
            }
        }
    }
    Ok(emitted)
}

/// nats-server's `IsValidSubject`: no empty token, nothing after `>`, no whitespace.
fn is_valid_subject(subject: &str) -> bool {
    if subject.is_empty() {
        return false;
    }
    let mut after_full_wildcard = false;
    for token in subject.split('.') {
        if token.is_empty() || after_full_wildcard {
            return false;
        }
        if token
            .bytes()
            .any(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c))
        {
            return false;
        }
        if token == ">" {
            after_full_wildcard = true;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::{Claims, ClaimsData, User};
    use super::*;

    fn user(name: &str, tags: &[&str]) -> Claims<User> {
        Claims {
            data: ClaimsData {
                name: name.into(),
                subject: "UKEY".into(),
                ..Default::default()
            },
            nats: User {
                tags: tags.iter().map(|t| t.to_string()).collect(),
                issuer_account: "AKEY".into(),
                ..Default::default()
            },
        }
    }

    fn template(pub_allow: &[&str], sub_deny: &[&str]) -> UserPermissionLimits {
        let mut t = UserPermissionLimits::default();
        t.permissions.publish.allow = pub_allow.iter().map(|s| s.to_string()).collect();
        t.permissions.subscribe.deny = sub_deny.iter().map(|s| s.to_string()).collect();
        t.subs = -1;
        t
    }

    #[test]
    fn placeholders_become_the_users_values() {
        let t = template(
            &[
                "u.{{name()}}.>",
                "k.{{ subject() }}",
                "a.{{account-name()}}.{{account-subject()}}",
                "plain",
            ],
            &[],
        );
        let out = expand_user_template(&t, &user("alice", &[]), "ACC", &[]).unwrap();
        assert_eq!(
            out.permissions.publish.allow,
            vec!["u.alice.>", "k.UKEY", "a.ACC.AKEY", "plain"]
        );
        assert_eq!(out.subs, -1);
        // Names of operations are case-insensitive, as in nats-server.
        let t = template(&["u.{{Name()}}"], &[]);
        let out = expand_user_template(&t, &user("bob", &[]), "", &[]).unwrap();
        assert_eq!(out.permissions.publish.allow, vec!["u.bob"]);
    }

    #[test]
    fn tags_expand_to_every_value_and_missing_ones_drop_or_fail() {
        let t = template(&["r.{{tag(Region)}}.{{account-tag(tier)}}"], &[]);
        let u = user("x", &["region:eu", "region:us", "other:z"]);
        let out = expand_user_template(&t, &u, "", &["tier:gold".into()]).unwrap();
        assert_eq!(
            out.permissions.publish.allow,
            vec!["r.eu.gold", "r.us.gold"]
        );
        // An allow entry whose tag is missing is dropped; the emptied list denies all.
        let out = expand_user_template(&t, &user("x", &[]), "", &[]).unwrap();
        assert!(out.permissions.publish.allow.is_empty());
        assert_eq!(out.permissions.publish.deny, vec![">"]);
        // A deny entry whose tag is missing fails the login.
        let t = template(&[], &["d.{{tag(region)}}"]);
        assert_eq!(
            expand_user_template(&t, &user("x", &[]), "", &[]),
            Err(TemplateError::MissingTag {
                entry: "d.{{tag(region)}}".into(),
                key: "region".into()
            })
        );
    }

    #[test]
    fn unknown_operations_and_invalid_subjects_are_refused() {
        let t = template(&["x.{{nope()}}"], &[]);
        let e = expand_user_template(&t, &user("x", &[]), "", &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"template operation in "x.{{nope()}}": "nope()" is not defined"#
        );
        // An empty name makes an empty token: dropped from allow, an error in deny.
        let t = template(&["u.{{name()}}.x"], &["d.{{name()}}.x"]);
        assert_eq!(
            expand_user_template(&t, &user("", &[]), "", &[]),
            Err(TemplateError::InvalidSubject)
        );
        let t = template(&["u.{{name()}}.x", "ok"], &[]);
        let out = expand_user_template(&t, &user("", &[]), "", &[]).unwrap();
        assert_eq!(out.permissions.publish.allow, vec!["ok"]);
        // Text that is not a placeholder stays as written.
        assert_eq!(placeholders("a.{b}.{{}}.{{x}"), Vec::<(&str, &str)>::new());
    }

    #[test]
    fn expansions_are_bounded() {
        let tags = |n: usize| -> Vec<String> { (0..n).map(|i| format!("t:{i}")).collect() };
        let few = tags(40);
        let few: Vec<&str> = few.iter().map(String::as_str).collect();
        let t = template(&["{{tag(t)}}.{{tag(t)}}"], &[]);
        let out = expand_user_template(&t, &user("x", &few), "", &[]).unwrap();
        assert_eq!(out.permissions.publish.allow.len(), 40 * 40);
        let many = tags(100);
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(
            expand_user_template(&t, &user("x", &many), "", &[]),
            Err(TemplateError::TooMany)
        );
    }
}
