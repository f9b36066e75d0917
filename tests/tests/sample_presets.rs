//! The CLI's random stand-in hypernets (`metamorph_cli::sample`) have the family and INR size of
//! the presets they claim to mirror.

use metamorph_cli::sample;
use metamorph_trainer::preset::Preset;

#[test]
fn sample_families_match_their_presets() {
    for (name, (arch, inr)) in [
        ("mnist-mlp", sample::mnist_mlp()),
        ("digits-mlp", sample::digits_mlp()),
        ("mnist-lenet", sample::mnist_lenet()),
    ] {
        let preset = Preset::load(name).unwrap();
        assert_eq!(arch, preset.arch, "{name}: family");
        assert_eq!(inr, preset.inr, "{name}: INR size");
    }
}
