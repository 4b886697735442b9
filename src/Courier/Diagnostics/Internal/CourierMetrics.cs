using System.Diagnostics.Metrics;
using System.Reflection;

namespace Courier.Diagnostics.Internal;

/// <summary>
/// The one <see cref="Meter"/> (<c>Courier</c>) and its instruments, named after OpenTelemetry's RPC conventions where
/// they apply (<c>rpc.client.call.duration</c>, <c>rpc.server.call.duration</c>) and <c>courier.*</c> otherwise. Every
/// caller checks an instrument's <c>Enabled</c> before it reads a clock or builds tags, so with no listener a
/// measurement costs one field read. docs/observability.md lists them all.
/// </summary>
internal static class CourierMetrics
{
    public const string SystemNameTag = "rpc.system.name";
    public const string MethodTag = "rpc.method";
    public const string StatusTag = "rpc.response.status_code";
    public const string ErrorTypeTag = "error.type";
    public const string RoleTag = "courier.role";
    public const string KindTag = "courier.violation";
    public const string SystemName = "courier";

    /// <summary>From 100 µs to 10 s: Courier's round trips start near 100 µs, well below the conventions' 5 ms.</summary>
    private static readonly InstrumentAdvice<double> DurationBuckets = new()
    {
        HistogramBucketBoundaries = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    };

    public static readonly Meter Meter = new(CourierDiagnostics.MeterName, Version());

    // Client
    public static readonly Histogram<double> ClientDuration = Meter.CreateHistogram(
        "rpc.client.call.duration", "s", "Client round trip of a request, retries included, until its reply or failure.", null, DurationBuckets);

    public static readonly Counter<long> ClientRetries = Meter.CreateCounter<long>(
        "courier.client.retries", "{attempt}", "Requests sent again on a fresh connection after an attempt timed out (Lazy Pirate).");

    public static readonly Counter<long> ClientConnections = Meter.CreateCounter<long>(
        "courier.client.connections", "{connection}", "Connections opened by clients: the first, and one per reconnect.");

    public static readonly Counter<long> ClientRefused = Meter.CreateCounter<long>(
        "courier.client.refused", "{request}", "Requests whose message a client connection could not queue (its high-water mark reached); their attempt timeout recovers them.");

    // Server and worker handlers
    public static readonly Histogram<double> HandlerDuration = Meter.CreateHistogram(
        "rpc.server.call.duration", "s", "A request handled by a server or worker: from its arrival at the handler runner to its outcome.", null, DurationBuckets);

    public static readonly Counter<long> ServerRequests = Meter.CreateCounter<long>(
        "courier.server.requests", "{request}", "Requests a server answered, by service and status (rejections included).");

    public static readonly Counter<long> WorkerConnections = Meter.CreateCounter<long>(
        "courier.worker.connections", "{connection}", "Connections opened by workers to their broker: the first, and one per reconnect.");

    // Broker
    public static readonly Counter<long> BrokerRequests = Meter.CreateCounter<long>(
        "courier.broker.requests", "{request}", "Requests a broker answered, by service and status (rejections included).");

    public static readonly Histogram<double> BrokerDuration = Meter.CreateHistogram(
        "courier.broker.request.duration", "s", "A request in a broker: from its arrival to its answer (queue wait and worker time).", null, DurationBuckets);

    public static readonly Histogram<double> BrokerQueueWait = Meter.CreateHistogram(
        "courier.broker.queue.wait", "s", "Time a request waited in its service's queue for a worker with room.", null, DurationBuckets);

    public static readonly Counter<long> BrokerRequeued = Meter.CreateCounter<long>(
        "courier.broker.requeued", "{request}", "Requests taken back from a worker that died, stopped or had no room, queued again.");

    // Everyone
    public static readonly Counter<long> Violations = Meter.CreateCounter<long>(
        "courier.violations", "{event}", "What peers made a server, broker or worker drop or refuse: malformed messages, protocol violations, dropped replies, limits reached.");

    public static readonly Counter<long> SentBytes = Meter.CreateCounter<long>(
        "courier.transport.sent", "By", "Bytes of message frames handed to the transport.");

    public static readonly Counter<long> ReceivedBytes = Meter.CreateCounter<long>(
        "courier.transport.received", "By", "Bytes of message frames received from the transport.");

    static CourierMetrics()
    {
        LiveGauges.CreateInstruments(Meter);
    }

    public static void CountViolation(string role, string kind, int count = 1)
    {
        if (Violations.Enabled)
        {
            Violations.Add(count, new KeyValuePair<string, object?>(RoleTag, role), new KeyValuePair<string, object?>(KindTag, kind));
        }
    }

    private static string? Version()
        => typeof(CourierMetrics).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
}
