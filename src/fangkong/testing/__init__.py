"""Whole-population testing (全员核酸检测): rounds, pooled sampling, lab results, positive pools, coverage."""
