using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Courier.Diagnostics;

namespace Courier.Tests.Infrastructure;

/// <summary>
/// A real <see cref="MeterListener"/> on the Courier meter that keeps every measurement. Other tests run alongside in the
/// same process, so assertions pick measurements by a tag value only their test uses (a unique service name).
/// </summary>
public sealed class MetricRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<Measured> _measurements = new();

    public sealed record Measured(string Instrument, double Value, IReadOnlyDictionary<string, string?> Tags);

    public MetricRecorder()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == CourierDiagnostics.MeterName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Add(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Add(instrument, value, tags));
        _listener.Start();
    }

    /// <summary>Asks the observable instruments for their values now.</summary>
    public void Collect() => _listener.RecordObservableInstruments();

    public IReadOnlyList<Measured> Of(string instrument, string? method = null)
        => [.. _measurements.Where(m => m.Instrument == instrument && (method is null || m.Tags.GetValueOrDefault("rpc.method") == method))];

    /// <summary>The latest value an observable instrument reported for <paramref name="method"/>.</summary>
    public double? Latest(string instrument, string method)
    {
        Collect();
        var all = Of(instrument, method);
        return all.Count == 0 ? null : all[^1].Value;
    }

    public void Dispose() => _listener.Dispose();

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var copy = new Dictionary<string, string?>();
        foreach (var tag in tags)
        {
            copy[tag.Key] = tag.Value?.ToString();
        }

        _measurements.Enqueue(new Measured(instrument.Name, value, copy));
    }
}
