//! The ImageNet-1k class names, in the order of the classifier's logits (see
//! `data/README.md` for where the list comes from).

use std::sync::OnceLock;

const CLASSES: &str = include_str!("../data/imagenet-classes.txt");

/// The 1,000 class names; index = logit index.
pub fn imagenet_classes() -> &'static [&'static str] {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| {
        CLASSES
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::efficientnet::NUM_CLASSES;

    #[test]
    fn there_is_one_distinct_name_per_class_in_logit_order() {
        let names = imagenet_classes();
        assert_eq!(names.len(), NUM_CLASSES);
        let distinct: std::collections::HashSet<_> = names.iter().collect();
        assert_eq!(distinct.len(), NUM_CLASSES);
        assert_eq!(names[0], "tench");
        assert_eq!(names[294], "brown bear");
        assert_eq!(names[999], "toilet tissue");
    }
}
