"""Reports that fill themselves (帮我填): indicators over the database, XLSX templates."""
