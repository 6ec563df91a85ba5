"""The fiscal warehouse (财政数据仓库): models, migrations, reference data and the feed specification."""
