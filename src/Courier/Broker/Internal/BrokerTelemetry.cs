using System.Diagnostics;
using Courier.Diagnostics.Internal;
using Courier.Protocol;

namespace Courier.Broker.Internal;

/// <summary>
/// What the broker measures: queue wait and arrival-to-answer time (for the meter's histograms, and for
/// <c>mmi.stats</c>'s percentiles while someone asks for them), requeues, and the snapshot its gauges read. A request is
/// timed only while a listener or a watcher wants it: otherwise no clock is read. Loop thread only, except <see cref="Read"/>.
/// </summary>
internal sealed class BrokerTelemetry : IGaugeSource
{
    /// <summary>How long one <c>mmi.stats</c> keeps latencies recorded: a <c>courier top</c> asks every second or so.</summary>
    private static readonly long WatchTicks = Stopwatch.Frequency * 30;
    private static readonly long WindowTicks = Stopwatch.Frequency * 5;
    private long _watchedUntil;
    private bool _watched;
    private long _nextRotation;
    private volatile Reading[] _snapshot = [];

    private readonly record struct Reading(string Service, int Queued, int Active, int Workers);

    private volatile int _connections;

    /// <summary>Whether requests are being timed now.</summary>
    public bool Measuring => _watched || CourierMetrics.BrokerDuration.Enabled || CourierMetrics.BrokerQueueWait.Enabled;

    /// <summary>Someone asked <c>mmi.stats</c>: latencies are recorded for a while.</summary>
    public void Watch()
    {
        _watchedUntil = Stopwatch.GetTimestamp() + WatchTicks;
        _watched = true;
    }

    public void Arrived(BrokerRequest request)
    {
        if (Measuring)
        {
            request.ArrivedAt = request.QueuedAt = Stopwatch.GetTimestamp();
        }
    }

    public static void Dispatched(BrokerRequest request)
    {
        if (CourierMetrics.BrokerQueueWait.Enabled)
        {
            CourierMetrics.BrokerQueueWait.Record(
                Stopwatch.GetElapsedTime(request.QueuedAt).TotalSeconds,
                new KeyValuePair<string, object?>(CourierMetrics.MethodTag, request.Service.Name));
        }
    }

    /// <summary>A request answered (a reply, or an error) by the broker.</summary>
    public static void Answered(BrokerRequest request, int status)
    {
        if (request.ArrivedAt != 0)
        {
            var elapsed = Stopwatch.GetTimestamp() - request.ArrivedAt;
            (request.Service.Latency ??= new LatencyWindow()).Record(elapsed);
            if (CourierMetrics.BrokerDuration.Enabled)
            {
                CourierMetrics.BrokerDuration.Record(
                    (double)elapsed / Stopwatch.Frequency,
                    // A 404 is for a name no worker registered, which any client picks: not a tag value (ClientFrontEnd.Count).
                    new KeyValuePair<string, object?>(CourierMetrics.MethodTag, status == CourierStatus.NotFound ? "_OTHER" : request.Service.Name),
                    new KeyValuePair<string, object?>(CourierMetrics.StatusTag, StatusText.Of(status)));
            }
        }

        if (request.Activity is { } activity)
        {
            CourierTracing.Stop(activity, status);
        }
    }

    public static void Requeued(BrokerRequest request)
    {
        if (CourierMetrics.BrokerRequeued.Enabled)
        {
            CourierMetrics.BrokerRequeued.Add(1, new KeyValuePair<string, object?>(CourierMetrics.MethodTag, request.Service.Name));
        }

        if (request.QueuedAt != 0)
        {
            request.QueuedAt = Stopwatch.GetTimestamp();
        }
    }

    /// <summary>A queued request whose client went away: nobody is answered.</summary>
    public static void Abandoned(BrokerRequest request)
    {
        if (request.Activity is { } activity)
        {
            CourierTracing.Stop(activity, 0, "client_gone");
        }
    }

    /// <summary>Ends watching when nobody asked for a while, rotates the latency windows, publishes the gauges' snapshot.</summary>
    public void OnTick(IEnumerable<BrokerService> services)
    {
        var now = Stopwatch.GetTimestamp();
        if (_watched && now > _watchedUntil)
        {
            _watched = false;
        }

        if (now >= _nextRotation)
        {
            _nextRotation = now + WindowTicks;
            foreach (var service in services)
            {
                service.Latency?.Rotate();
            }
        }

        if (LiveGauges.BrokerEnabled)
        {
            var readings = new List<Reading>();
            var peers = new HashSet<WorkerPeer>();
            foreach (var service in services)
            {
                var active = 0;
                foreach (var worker in service.Workers)
                {
                    active += worker.Outstanding.Count;
                    peers.Add(worker.Peer);
                }

                readings.Add(new Reading(service.Name, service.Queue.Count, active, service.Workers.Count));
            }

            _snapshot = [.. readings];
            _connections = peers.Count;
        }
    }

    /// <summary>The snapshot of the last tick. Any thread.</summary>
    public void Read(GaugeReadings readings)
    {
        foreach (var reading in _snapshot)
        {
            readings.Add(Gauge.BrokerQueued, reading.Queued, reading.Service);
            readings.Add(Gauge.BrokerActive, reading.Active, reading.Service);
            readings.Add(Gauge.BrokerWorkers, reading.Workers, reading.Service);
        }

        readings.Add(Gauge.BrokerWorkerConnections, _connections);
    }
}
