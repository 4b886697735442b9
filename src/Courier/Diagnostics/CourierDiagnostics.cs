namespace Courier.Diagnostics;

/// <summary>
/// The names under which Courier publishes its metrics (<see cref="System.Diagnostics.Metrics.Meter"/>) and traces
/// (<see cref="System.Diagnostics.ActivitySource"/>): give them to OpenTelemetry's <c>AddMeter</c> and <c>AddSource</c>.
/// Nothing is measured, and no span is made, unless a listener asks for them. docs/observability.md lists every
/// instrument and span.
/// </summary>
public static class CourierDiagnostics
{
    /// <summary>The one meter's name: <c>Courier</c>.</summary>
    public const string MeterName = "Courier";

    /// <summary>The one activity source's name: <c>Courier</c>.</summary>
    public const string ActivitySourceName = "Courier";
}
