"""What grading writes: results.json, grades.csv and the HTML pages."""
