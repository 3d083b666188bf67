//! `enter`: a run goes into another flow and comes back when it ends (docs/language.md §4.11). The
//! flows that entered wait in [`super::RunState::parents`].

use super::{Event, Frame, MAX_ENTER_DEPTH, Machine, RunStatus, find_flow};
use crate::program::Instr;

impl Machine<'_> {
    /// The flow running now ends with `status`. Inside `enter`, a flow that completes or expires
    /// returns to the flow that entered it, and the run goes on (`true`); anything else ends the run.
    pub(super) fn end(&mut self, status: RunStatus, reason: Option<String>) -> bool {
        self.state.waiting = None;
        if matches!(status, RunStatus::Completed | RunStatus::Expired)
            && let Some(frame) = self.state.parents.pop()
        {
            self.events.push(Event::FlowLeft { flow: self.state.flow.clone(), status });
            let Ok((_, parent)) = find_flow(self.program, Some(&frame.flow)) else {
                return self.end(RunStatus::Failed, Some(format!("the flow `{}` is gone", frame.flow)));
            };
            let child = self.state.results();
            let state = &mut *self.state;
            state.flow = frame.flow;
            state.pc = frame.pc;
            state.slot_names = frame.slot_names;
            state.slots = frame.slots;
            state.extra = frame.extra;
            state.webhooks = frame.webhooks;
            state.visits = frame.visits;
            state.child = child;
            self.flow = parent;
            let on_expired = match self.flow.code.get(self.state.pc) {
                Some(Instr::Enter { on_expired, .. }) => *on_expired,
                _ => None,
            };
            return match status {
                RunStatus::Completed => {
                    self.state.pc += 1;
                    true
                }
                _ => match on_expired {
                    Some(target) => {
                        self.state.pc = target;
                        true
                    }
                    None => self.end(status, reason),
                },
            };
        }
        self.state.status = status;
        self.state.parents.clear();
        self.events.push(Event::RunEnded { status, reason });
        false
    }

    /// `enter FLOW`: the run goes into `flow`; unless `terminal`, the flow running now waits for it.
    pub(super) fn enter(&mut self, flow: &str, terminal: bool) -> bool {
        let Ok((_, child)) = find_flow(self.program, Some(flow)) else {
            return self.end(RunStatus::Failed, Some(format!("there is no flow `{flow}` to enter")));
        };
        if !terminal && self.state.parents.len() >= MAX_ENTER_DEPTH {
            let reason = format!("flows entered more than {MAX_ENTER_DEPTH} deep (flows that enter each other?)");
            return self.end(RunStatus::Failed, Some(reason));
        }
        let state = &mut *self.state;
        let slots = std::mem::replace(&mut state.slots, vec![None; child.slots.len()]);
        let slot_names = std::mem::replace(&mut state.slot_names, child.slots.clone());
        let webhooks = std::mem::replace(&mut state.webhooks, vec![None; child.webhooks.len()]);
        let extra = std::mem::take(&mut state.extra);
        let visits = std::mem::take(&mut state.visits);
        let own_child = std::mem::take(&mut state.child);
        let name = std::mem::replace(&mut state.flow, child.name.clone());
        if terminal {
            self.events.push(Event::FlowLeft { flow: name, status: RunStatus::Completed });
        } else {
            let frame =
                Frame { flow: name, pc: state.pc, slot_names, slots, extra, webhooks, visits, child: own_child };
            state.parents.push(frame);
        }
        state.pc = 0;
        self.flow = child;
        self.events.push(Event::FlowEntered { flow: child.name.clone(), terminal });
        true
    }
}
