"""The yearly statistical report the council publishes: tables of its cases, small counts
protected, as Markdown, HTML, CSV and PNG charts."""
