"""The customer export as a background run (a list longer than the setting
``imports.background_rows``): the same rows and audit entry as the export in the request
(models.customer_import.export_rows, xlsx.stream_workbook), the workbook kept on the run (a piece at
a time: never the whole file in memory) for the clerk to download from its page."""
from dataclasses import asdict

from flask_babel import gettext as _

from extensions import reads_reports
from models import background, customer_import as imports, customers as c
from reports import xlsx


def enqueue(customer_filter, *, actor, count):
    """Queue the export of the customers `customer_filter` finds for `actor` (refused at once
    for a role that may not export)."""
    imports.export_rows(c.find_customers(actor, customer_filter), actor=actor)  # the refusal
    return background.enqueue("customer_export", actor=actor, rows_total=count,
                              params={"filter": asdict(customer_filter)})


@reads_reports
def run(run, *, actor, progress):
    rows = imports.export_rows(c.find_customers(actor, c.CustomerFilter(**run.params["filter"])),
                               actor=actor)

    def counted():
        for done, row in enumerate(rows, start=1):
            yield row
            progress(done, 0)
    content, count = xlsx.stream_workbook(_("Customers"), imports.EXPORT_COLUMNS, counted())
    imports.audit_export(actor, count)
    return {"count": count, "errors": 0}, content


background.register_handler("customer_export", run)
