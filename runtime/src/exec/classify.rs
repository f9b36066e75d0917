//! From logits to a class: the one arg-max rule every tool that reports a prediction uses, so the
//! firmware, the host and the CLI agree even on ties.

/// Index of the first largest logit (0 for an empty row; a NaN never wins).
///
/// ```
/// assert_eq!(metamorph::exec::argmax(&[0.5, 2.0, 2.0, -1.0]), 1);
/// ```
pub fn argmax(logits: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in logits.iter().enumerate() {
        if *v > logits[best] {
            best = i;
        }
    }
    best
}
