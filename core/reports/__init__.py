"""The Customer Feedback Report: every figure is aggregated in SQL, never by loading responses into Python."""

from core.reports.summary import DIMENSIONS, Filters, Summary, breakdown, summary

__all__ = ["DIMENSIONS", "Filters", "Summary", "breakdown", "summary"]
