"""Reading the inputs: banks and rubrics (checked, with located problems), submissions."""
