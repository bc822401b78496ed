"""Read a metric's value out of the Prometheus text format."""

from prometheus_client.parser import text_string_to_metric_families


def sample_value(text, name, **labels):
    """Return the value of the sample ``name{labels}`` in ``text``, or None."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None
