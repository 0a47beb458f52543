"""The warehouse: products, warehouses, documents, counts, stock views."""
