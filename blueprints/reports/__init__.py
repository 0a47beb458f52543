"""Reports: filter pages, HTML views, PDFs and .xlsx of the printed reports."""
