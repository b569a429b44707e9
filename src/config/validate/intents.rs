//! Validation of a store's `intents:` list: short (`- <id>`) and long (`- id: <id>`,
//! `order_id: ...`) forms, ids, order ids and duplicates.

use std::collections::HashMap;

use super::{Fields, Validator};
use crate::config::IntentId;
use crate::config::OrderIdProblem;
use crate::config::schema::{INTENT_KEYS, IntentConfig};
use crate::config::yaml::{Node, Value, index, quote};

impl Validator<'_> {
    pub(super) fn intents(&mut self, f: &Fields) -> Option<Vec<IntentConfig>> {
        let path = f.path("intents");
        let items = match f.get("intents") {
            None => return Some(Vec::new()),
            Some(Node {
                value: Value::Seq(items),
                ..
            }) => items,
            Some(other) => {
                self.problem(
                    path,
                    format!("expected a list of intents, got {}", other.describe()),
                );
                return None;
            }
        };
        let mut intents = Vec::with_capacity(items.len());
        let mut ok = true;
        let mut seen: HashMap<IntentId, usize> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            let item_path = index(&path, i);
            let Some(intent) = self.intent(&item_path, item) else {
                ok = false;
                continue;
            };
            if let Some(first) = seen.get(&intent.id) {
                self.problem(
                    &item_path,
                    format!(
                        "duplicate intent {} (first at {})",
                        intent.id,
                        index(&path, *first)
                    ),
                );
                ok = false;
                continue;
            }
            seen.insert(intent.id.clone(), i);
            intents.push(intent);
        }
        ok.then_some(intents)
    }

    fn intent(&mut self, path: &str, node: &Node) -> Option<IntentConfig> {
        match &node.value {
            Value::Map(entries) => {
                let f = self.fields(path, entries, INTENT_KEYS, &mut |_, _| false);
                let id = match f.get("id") {
                    Some(id) => self.intent_id(&f.path("id"), id),
                    None => {
                        let message = if f.is_null("id") {
                            "must not be empty; expected a 24-hex checkout intent id"
                        } else {
                            "required key is missing (the 24-hex checkout intent id)"
                        };
                        self.problem(f.path("id"), message);
                        None
                    }
                };
                let order_id = match f.get("order_id") {
                    None => Some(None),
                    Some(o) => self.order_id(&f.path("order_id"), o).map(Some),
                };
                Some(IntentConfig {
                    id: id?,
                    order_id: order_id?,
                })
            }
            Value::Seq(_) | Value::Null => {
                self.problem(
                    path,
                    format!(
                        "expected a 24-hex checkout intent id or a mapping with id (and optional order_id), got {}",
                        node.describe()
                    ),
                );
                None
            }
            _ => Some(IntentConfig {
                id: self.intent_id(path, node)?,
                order_id: None,
            }),
        }
    }

    fn intent_id(&mut self, path: &str, node: &Node) -> Option<IntentId> {
        let text = node.scalar_text();
        if let Some(id) = text.as_deref().and_then(IntentId::parse) {
            return Some(id);
        }
        let shown = match text {
            Some(text) => quote(&text),
            None => node.describe(),
        };
        self.problem(path, format!("{shown} is not a 24-hex checkout intent id"));
        None
    }

    fn order_id(&mut self, path: &str, node: &Node) -> Option<String> {
        let text = self.text(path, node, "an order id (text)")?;
        match OrderIdProblem::of(&text) {
            None => Some(text),
            Some(problem) => {
                self.problem(path, problem.message(&quote(&text)));
                None
            }
        }
    }
}
