"""matcalc: symbolic matrix calculus by differential identification."""
