//! Multi-head self-attention of the fused forward pass.

use std::ops::Range;

use super::kernels::{score_keys, softmax_rows, weighted_sum};
use super::{AttentionScratch, CpuNetwork, resize};

/// Which queries [`CpuNetwork::attention`] computes.
pub(super) struct Queries {
    pub(super) series: usize,
    /// The tokens whose queries are computed, the same for every series.
    pub(super) tokens: Range<usize>,
    pub(super) heads: Range<usize>,
}

impl CpuNetwork {
    /// Multi-head self-attention over each series' tokens, for the queries of some tokens
    /// only and the heads `heads` only ([`Queries`]): `query_key_value` rows hold
    /// `[Q | K | V]` for every token (only those heads' columns are read), `context`
    /// receives the heads side by side for each query, one row per query token of each
    /// series (only those heads' columns are written). Each head's scores are built a whole row of keys at a
    /// time (keys transposed first), so the loops run along contiguous memory and vectorise.
    #[inline(always)]
    pub(super) fn attention(
        &self,
        queries: Queries,
        query_key_value: &[f32],
        scratch: &mut AttentionScratch,
        context: &mut [f32],
    ) {
        // The default models' shapes (8 tokens up to a day ahead, 14 a week ahead; heads
        // of 16) with sizes known to the compiler, which then unrolls the loops over
        // tokens into whole vectors. Each arm calls directly (not through a function
        // pointer), so that it is inlined into the caller compiled for the CPU's vectors.
        match (self.tokens, self.d_model / self.n_heads) {
            (8, 16) => self.attention_sized::<8, 16>(queries, query_key_value, scratch, context),
            (14, 16) => self.attention_sized::<14, 16>(queries, query_key_value, scratch, context),
            _ => self.attention_sized::<0, 0>(queries, query_key_value, scratch, context),
        }
    }

    /// [`attention`](Self::attention) for `TOKENS` tokens and heads `HEAD_WIDTH` wide; 0:
    /// read from the network at run time.
    #[inline(always)]
    fn attention_sized<const TOKENS: usize, const HEAD_WIDTH: usize>(
        &self,
        queries: Queries,
        query_key_value: &[f32],
        scratch: &mut AttentionScratch,
        context: &mut [f32],
    ) {
        let Queries {
            series,
            tokens: query_tokens,
            heads,
        } = queries;
        let d = self.d_model;
        let t = if TOKENS == 0 { self.tokens } else { TOKENS };
        let head_width = if HEAD_WIDTH == 0 {
            d / self.n_heads
        } else {
            HEAD_WIDTH
        };
        let first_query = query_tokens.start;
        let queries = query_tokens.len();
        let scale = (head_width as f32).sqrt();
        let AttentionScratch {
            keys_transposed,
            scores,
        } = scratch;
        resize(keys_transposed, head_width * t);
        resize(scores, queries * t);
        for i in 0..series {
            let rows = &query_key_value[i * t * 3 * d..][..t * 3 * d];
            let out = &mut context[i * queries * d..][..queries * d];
            for head in heads.clone() {
                let offset = head * head_width;
                for key_token in 0..t {
                    let key = &rows[key_token * 3 * d + d + offset..][..head_width];
                    for (e, &k) in key.iter().enumerate() {
                        keys_transposed[e * t + key_token] = k;
                    }
                }
                // Every query's scores at once, `[queries, t]`: the softmax's elementwise
                // steps then run over one contiguous block, as whole vectors.
                let scores = &mut scores[..queries * t];
                for (query, row) in scores.chunks_exact_mut(t).enumerate() {
                    let query = &rows[(first_query + query) * 3 * d + offset..][..head_width];
                    if TOKENS > 0 {
                        // A local array of known size stays in a vector register.
                        let mut local = [0.0; TOKENS];
                        score_keys(query, keys_transposed, &mut local);
                        row.copy_from_slice(&local);
                    } else {
                        row.fill(0.0);
                        score_keys(query, keys_transposed, row);
                    }
                }
                softmax_rows(scores, t, scale);
                let values = &rows[2 * d + offset..];
                for (query, weights) in scores.chunks_exact(t).enumerate() {
                    let target = &mut out[query * d + offset..][..head_width];
                    if HEAD_WIDTH > 0 {
                        // A local array of known size stays in vector registers.
                        let mut context = [0.0; HEAD_WIDTH];
                        weighted_sum(weights, values, 3 * d, &mut context);
                        target.copy_from_slice(&context);
                    } else {
                        target.fill(0.0);
                        weighted_sum(weights, values, 3 * d, target);
                    }
                }
            }
        }
    }
}
