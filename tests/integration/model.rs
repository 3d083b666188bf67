//! The model the checker returns (definitions, uses, types), on a flow that has syntax errors: the
//! queries an editor makes while someone types.

use flowc::check::model::DefKind;
use flowc::types::Ty;

const TYPING: &str = r#"connector orders bearer env "ORDERS_TOKEN"
flow survey {
  step ask {
    send "How old are you?"
    wait age timeout 1h
  }
  set total = @flow.
  send "Thanks" +
  webhook lookup POST "https://orders.example.com/x" { auth orders; on failure { goto ask } }
  split group = @flow.age {
    case has_number_gt 17 as Adult { send "Adult @flow.group" }
    others { goto ask }
  }
  send "@flow.total and @flow.nam @webhook.lookup.status"
  goto ask
}
"#;

#[test]
fn three_errors_in_three_statements_are_reported_and_the_rest_is_checked() {
    let a = flowc::analyze(TYPING);
    let codes: Vec<&str> = a.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes.iter().filter(|c| c.starts_with("flowc::syntax::")).count(), 3, "{codes:?}");
    // The typo after the broken statements is still found.
    assert!(a.diagnostics.iter().any(|d| d.message.contains("@flow.nam")), "{codes:?}");
    // No follow-on error from the broken `set`: `@flow.total` is defined by it.
    assert!(!a.diagnostics.iter().any(|d| d.message.contains("@flow.total")), "{:#?}", a.diagnostics);
}

#[test]
fn a_flow_with_syntax_errors_keeps_its_definitions_uses_and_types() {
    let m = flowc::analyze(TYPING).model;
    let flow = Some("survey");
    assert_eq!(m.find(DefKind::Flow, "survey", None).len(), 1);
    assert_eq!(m.find(DefKind::Connector, "orders", None).len(), 1);
    let step = m.find(DefKind::Step, "ask", flow);
    assert_eq!(step.len(), 1);
    for result in ["age", "total", "lookup", "group"] {
        assert_eq!(m.find(DefKind::Result, result, flow).len(), 1, "{result}");
    }
    assert_eq!(m.find(DefKind::Webhook, "lookup", flow).len(), 1);
    // Every `goto ask` resolves to the step (the one in `on failure` too).
    let ask = m.definitions.iter().position(|d| d.kind == DefKind::Step && d.name == "ask").unwrap();
    assert_eq!(m.uses_of(ask).count(), 2, "{:#?}", m.uses);
    // `auth orders` resolves to the connector; `@flow.nam` resolves to nothing.
    let orders = m.definitions.iter().position(|d| d.kind == DefKind::Connector).unwrap();
    assert_eq!(m.uses_of(orders).count(), 1);
    let nam = m.uses.iter().find(|u| u.name == "nam").unwrap();
    assert!(nam.targets.is_empty());
    // Types: `@flow.age` is the reply (text); `@webhook.lookup.status` a number.
    let at = |needle: &str| TYPING.find(needle).unwrap() + 1;
    assert_eq!(m.type_at(at("@flow.age {")), Some(&Ty::Text));
    assert_eq!(m.type_at(at("@webhook.lookup.status")), Some(&Ty::Number));
    assert_eq!(m.type_at(at("@flow.group\"")), Some(&Ty::SplitResult));
}
