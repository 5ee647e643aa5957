"""One module per concept the chapters teach; imports workbook.core only."""
