//! The one dense kernel everything runs on: `Y = X · Wᵀ + b` through `matrixmultiply::sgemm`.

use crate::error::{Error, Result};

/// `y[r, o] = Σ_p x[r, p] · w[o, p] + bias[o]` for `rows × inputs` `x` and row-major `[outputs, inputs]` `w`.
/// `y` must hold `rows × outputs`; `bias` is empty (no bias) or `outputs` long.
pub fn linear(x: &[f32], w: &[f32], bias: &[f32], rows: usize, inputs: usize, outputs: usize, y: &mut [f32]) -> Result<()> {
    check(x.len(), rows * inputs)?;
    check(w.len(), outputs * inputs)?;
    check(y.len(), rows * outputs)?;
    if !bias.is_empty() {
        check(bias.len(), outputs)?;
    }
    if rows == 0 || outputs == 0 {
        return Ok(());
    }
    for row in y.chunks_exact_mut(outputs) {
        if bias.is_empty() {
            row.fill(0.0);
        } else {
            row.copy_from_slice(bias);
        }
    }
    if inputs == 0 {
        return Ok(());
    }
    // SAFETY: the checks above guarantee every index sgemm touches lies inside the slices:
    // A = x is rows×inputs (row stride inputs), B = wᵀ is inputs×outputs read from w with
    // strides (1, inputs), C = y is rows×outputs (row stride outputs).
    unsafe {
        matrixmultiply::sgemm(
            rows,
            inputs,
            outputs,
            1.0,
            x.as_ptr(),
            inputs as isize,
            1,
            w.as_ptr(),
            1,
            inputs as isize,
            1.0,
            y.as_mut_ptr(),
            outputs as isize,
            1,
        );
    }
    Ok(())
}

fn check(found: usize, expected: usize) -> Result<()> {
    if found != expected {
        return Err(Error::ShapeMismatch { expected, found });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::linear;

    #[test]
    fn matches_hand_computation() {
        let x = [1.0, 2.0, 3.0, 4.0]; // 2 rows × 2 inputs
        let w = [1.0, 0.0, 0.5, -1.0, 2.0, 2.0]; // 3 outputs × 2 inputs
        let mut y = [0.0; 6];
        linear(&x, &w, &[0.1, 0.2, 0.3], 2, 2, 3, &mut y).unwrap();
        assert_eq!(y, [1.1, -1.3, 6.3, 3.1, -2.3, 14.3]);
    }

    #[test]
    fn wrong_lengths_are_errors() {
        let mut y = [0.0; 2];
        assert!(linear(&[1.0; 3], &[1.0; 2], &[], 2, 2, 1, &mut y).is_err());
    }
}
