using System.Diagnostics.Metrics;

namespace Courier.Diagnostics.Internal;

/// <summary>What an observable gauge reports: requests in flight or queued, workers, connections.</summary>
internal enum Gauge
{
    ClientActive,
    ServerActive,
    ServerQueued,
    WorkerActive,
    WorkerQueued,
    BrokerQueued,
    BrokerActive,
    BrokerWorkers,
    BrokerWorkerConnections,
}

/// <summary>A live client, server, worker or broker that reports current values when a listener collects.</summary>
internal interface IGaugeSource
{
    /// <summary>Adds this instance's current values. Any thread: reads only what is safe to read off the owner's loop.</summary>
    void Read(GaugeReadings readings);
}

/// <summary>Values of one collection, summed over live instances by gauge and service.</summary>
internal sealed class GaugeReadings
{
    private readonly Dictionary<(Gauge Gauge, string? Service), long> _values = [];

    public void Add(Gauge gauge, long value, string? service = null)
    {
        _values.TryGetValue((gauge, service), out var sum);
        _values[(gauge, service)] = sum + value;
    }

    public IEnumerable<Measurement<long>> Of(Gauge gauge)
    {
        foreach (var ((g, service), value) in _values)
        {
            if (g == gauge)
            {
                yield return service is null
                    ? new Measurement<long>(value)
                    : new Measurement<long>(value, new KeyValuePair<string, object?>(CourierMetrics.MethodTag, service));
            }
        }
    }
}

/// <summary>
/// The observable up-down counters, and the live instances they read. A client, server, worker or broker registers while
/// it runs; with no listener nothing is ever read.
/// </summary>
internal static class LiveGauges
{
    private static readonly Lock Gate = new();
    private static readonly List<IGaugeSource> Sources = [];
    private static readonly ObservableInstrument<long>[] Instruments = new ObservableInstrument<long>[Enum.GetValues<Gauge>().Length];

    /// <summary>Whether a listener collects any broker gauge: a broker publishes its snapshot only then.</summary>
    public static bool BrokerEnabled
        => CourierMetrics.Meter is not null // makes the meter and its instruments, so a listener can find them
           && Instruments[(int)Gauge.BrokerQueued] is { } first
           && (first.Enabled || Instruments[(int)Gauge.BrokerActive].Enabled || Instruments[(int)Gauge.BrokerWorkers].Enabled);

    public static IDisposable Register(IGaugeSource source)
    {
        lock (Gate)
        {
            Sources.Add(source);
        }

        return new Registration(source);
    }

    internal static void CreateInstruments(Meter meter)
    {
        Create(meter, Gauge.ClientActive, "courier.client.active_requests", "{request}", "Requests a client has sent or queued and not yet completed.");
        Create(meter, Gauge.ServerActive, "courier.server.active_requests", "{request}", "Handlers a server runs now.");
        Create(meter, Gauge.ServerQueued, "courier.server.queued_requests", "{request}", "Requests waiting in a server for a free handler slot.");
        Create(meter, Gauge.WorkerActive, "courier.worker.active_requests", "{request}", "Handlers a worker runs now.");
        Create(meter, Gauge.WorkerQueued, "courier.worker.queued_requests", "{request}", "Requests waiting in a worker for a handler (its prefetch), by service.");
        Create(meter, Gauge.BrokerQueued, "courier.broker.queued_requests", "{request}", "Requests waiting in a broker for a worker, by service.");
        Create(meter, Gauge.BrokerActive, "courier.broker.active_requests", "{request}", "Requests a broker has given to workers and not yet had answered, by service.");
        Create(meter, Gauge.BrokerWorkers, "courier.broker.workers", "{worker}", "Workers registered with a broker, by service.");
        Create(meter, Gauge.BrokerWorkerConnections, "courier.broker.worker_connections", "{connection}", "Worker connections a broker holds (one may carry several services).");
    }

    private static void Create(Meter meter, Gauge gauge, string name, string unit, string description)
        => Instruments[(int)gauge] = meter.CreateObservableUpDownCounter(name, () => Collect(gauge), unit, description);

    private static IEnumerable<Measurement<long>> Collect(Gauge gauge)
    {
        var readings = new GaugeReadings();
        IGaugeSource[] sources;
        lock (Gate)
        {
            sources = [.. Sources];
        }

        foreach (var source in sources)
        {
            source.Read(readings);
        }

        return readings.Of(gauge);
    }

    private sealed class Registration(IGaugeSource source) : IDisposable
    {
        public void Dispose()
        {
            lock (Gate)
            {
                Sources.Remove(source);
            }
        }
    }
}
