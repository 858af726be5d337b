//! Label matching (`classify`): properties over any reply and any label set. The other
//! parsers' properties are in `src/fuzz_tests.rs`.

use proptest::prelude::*;

use super::classify::match_label;

/// Label sets as a prompt file allows them: non-empty, unique ignoring case.
fn labels() -> impl Strategy<Value = Vec<String>> {
    prop::collection::btree_map("[a-z][a-z0-9 _-]{0,14}[a-z0-9]", any::<bool>(), 1..8).prop_map(
        |m| {
            m.into_iter()
                .map(|(l, upper)| {
                    if upper {
                        let mut c = l.chars();
                        c.next().unwrap().to_uppercase().chain(c).collect()
                    } else {
                        l
                    }
                })
                .collect()
        },
    )
}

/// How a model wraps a label: case, quotes, backquotes, trailing punctuation, spaces.
fn wrap(label: &str, case: u8, layers: &[(char, &str)], pad: bool) -> String {
    let mut s = match case {
        0 => label.to_string(),
        1 => label.to_uppercase(),
        _ => label.to_lowercase(),
    };
    for (quote, punct) in layers {
        s = format!("{quote}{s}{quote}{punct}");
    }
    if pad { format!("  {s}\n") } else { s }
}

proptest! {
    #[test]
    fn match_label_never_panics_and_answers_from_the_set(reply in "\\PC{0,80}", set in labels()) {
        if let Some(l) = match_label(&reply, &set) {
            prop_assert!(set.iter().any(|x| x == l), "{:?} is not in {:?}", l, set);
        }
    }

    #[test]
    fn match_label_finds_a_wrapped_label(
        set in labels(),
        pick in any::<prop::sample::Index>(),
        case in 0u8..3,
        layers in prop::collection::vec(
            (
                prop::sample::select(vec!['"', '\'', '`']),
                prop::sample::select(vec!["", ".", "!", ",", ";", ":", "."]),
            ),
            0..3,
        ),
        pad in any::<bool>(),
        as_json in any::<bool>(),
    ) {
        let label = &set[pick.index(set.len())];
        let reply = if as_json {
            serde_json::json!({ "label": wrap(label, case, &layers, pad) }).to_string()
        } else {
            wrap(label, case, &layers, pad)
        };
        prop_assert_eq!(match_label(&reply, &set), Some(label.as_str()), "reply {:?}", reply);
    }
}
