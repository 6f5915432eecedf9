//! An ensemble's members side by side on the calling thread and the [`helper`], for a
//! batch of a single chunk (a live update of a few series): half the members each, where
//! handing them to rayon's pool from outside it costs about as much as a member's forward
//! pass.

use std::cell::UnsafeCell;

use super::helper::{self, Job};
use super::{CpuNetwork, Outputs};

/// Each member's forecasts of its inputs, members `0, 2, 4, …` in one task and `1, 3, …`
/// in the other; `None`, having computed nothing, when the helper is not free.
pub(super) fn forward_members(members: &[CpuNetwork], inputs: &[&[f32]]) -> Option<Vec<Outputs>> {
    if !helper::available() {
        return None;
    }
    let outputs = members
        .iter()
        .zip(inputs)
        .map(|(member, inputs)| {
            let len = inputs.len() / member.input_len() * member.horizon_hours;
            UnsafeCell::new((vec![0.0; len], vec![0.0; len]))
        })
        .collect();
    let job = MembersJob {
        members,
        inputs,
        outputs,
    };
    helper::run_with_helper(&job).then(|| {
        job.outputs
            .into_iter()
            .map(UnsafeCell::into_inner)
            .collect()
    })
}

struct MembersJob<'a> {
    members: &'a [CpuNetwork],
    inputs: &'a [&'a [f32]],
    /// Member `k`'s locations and scales, written only by the task that runs member `k`.
    outputs: Vec<UnsafeCell<Outputs>>,
}

// SAFETY: the two tasks write disjoint members' outputs, and nothing reads them until the
// job is done.
#[allow(unsafe_code)]
unsafe impl Sync for MembersJob<'_> {}

impl Job for MembersJob<'_> {
    fn stages(&self) -> usize {
        1
    }

    #[allow(unsafe_code)]
    fn run(&self, _stage: usize, task: usize, _participant: usize) {
        for member in (task..self.members.len()).step_by(helper::TASKS_PER_STAGE) {
            // SAFETY: see `Sync` above: only this task touches member `member`'s outputs.
            let (loc, scale) = unsafe { &mut *self.outputs[member].get() };
            self.members[member].forward_chunks(self.inputs[member], loc, scale);
        }
    }
}
