using Courier.Internal;
using Courier.Security;
using Courier.Transport;
using Courier.Transport.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Courier.Broker;

/// <summary>Settings of a <see cref="CourierBroker"/>. Start from <see cref="Default"/> and change what you need with <c>with</c>.</summary>
public sealed record CourierBrokerOptions
{
    /// <summary>
    /// The defaults: bind <c>tcp://127.0.0.1:5555</c>, heartbeat 2.5 s × liveness 3, 3 worker deaths per request; at most
    /// 10,000 services, 10,000 requests queued per service (shared fairly among clients), 100,000 requests and 256 MiB
    /// queued in all.
    /// </summary>
    public static CourierBrokerOptions Default { get; } = new();

    /// <summary>
    /// Endpoint serving clients and workers alike: <c>tcp://host:port</c>, <c>ipc://path</c> or <c>inproc://name</c>. A TCP
    /// host of <c>*</c> binds every interface; a TCP port of <c>*</c> or <c>0</c> picks a free port.
    /// </summary>
    public string Endpoint { get; init; } = "tcp://127.0.0.1:5555";

    /// <summary>How often the broker sends HEARTBEAT to every worker, busy or idle.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(2.5);

    /// <summary>Heartbeat intervals of silence after which a worker is declared dead.</summary>
    public int HeartbeatLiveness { get; init; } = 3;

    /// <summary>Worker deaths one request may witness before it is answered with an error instead of retried (poison request).</summary>
    public int MaxWorkerDeaths { get; init; } = 3;

    /// <summary>
    /// Requests waiting per service. Each client (connection) has its share: waiting requests are handed to workers one
    /// client at a time in turn, so a client that queues many delays only itself; and when the queue is full, a request
    /// from a client with fewer waiting than the client with the most takes the latter's newest place (which is answered
    /// 503). Otherwise a request beyond it is refused with 503. Default 10,000.
    /// </summary>
    public int MaxQueuedPerService { get; init; } = 10_000;

    /// <summary>
    /// How far the broker lets load run uneven to keep requests that arrive together together. Each request goes to the
    /// least-loaded worker of its service that has room; but one that came in a client's batch and finds no queue, handled
    /// in the same turn of the broker's loop as the service's request before it, goes to that one's worker while it has
    /// room and holds fewer than this many requests more than the least-loaded one. Requests that came in one
    /// message then leave in one message to one worker, and come back in one, where dealing them out one by one would
    /// cost a message per worker at every hop (brokered 64 B, 4 × 100 in flight: 12–22 % more requests a second and a p99
    /// 18–28 % shorter; docs/performance.md). The price: a worker may hold up to this many more than another, and past its
    /// <c>Concurrency</c> they wait in its prefetch while the other may have handlers free; where handlers are slow and
    /// uneven, give the workers <c>Prefetch</c> 0, or set this to 0, which deals every request to the least-loaded worker.
    /// Default 64.
    /// </summary>
    public int DispatchAffinity { get; init; } = 64;

    /// <summary>Requests waiting in all services together before new ones are refused with 503. Default 100,000.</summary>
    public int MaxQueued { get; init; } = 100_000;

    /// <summary>
    /// Bytes of the requests waiting in all services together (bodies, envelopes and about 256 bytes of bookkeeping each)
    /// before new ones are refused with 503. Requests handed to workers are bounded by the workers' capacities instead.
    /// Default 256 MiB.
    /// </summary>
    public long MaxQueuedBytes { get; init; } = 256L * 1024 * 1024;

    /// <summary>
    /// Services the broker keeps at once, named by a worker's READY or a client's request. A client request for a new
    /// service beyond it is refused with 503. A worker's READY for one takes the place of a service without a worker (one
    /// never served first, else the one whose last worker left the longest ago; its waiting requests answered 404), so
    /// that clients naming services nobody serves cannot keep workers out; only when every service has a worker is it
    /// refused (DISCONNECT). Default 10,000.
    /// </summary>
    public int MaxServices { get; init; } = 10_000;

    /// <summary>
    /// How long a service with no worker and nothing waiting is kept (with its <c>mmi.stats</c> counters) before it is
    /// forgotten, counted from when its last worker left, and never shorter than <see cref="ServiceGracePeriod"/>: names
    /// that clients merely asked for leave nothing behind. Default 60 s.
    /// </summary>
    public TimeSpan IdleServiceTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Largest request body accepted; larger ones are answered 413.</summary>
    public int MaxRequestSize { get; init; } = 1024 * 1024;

    /// <summary>
    /// How long a service may be without a worker before Courier clients asking for it are answered 404 at once, and its
    /// queued Courier requests too, instead of waiting out their timeouts (a service that never had a worker counts from
    /// the broker's start). Stock 7/MDP clients, which cannot tell a 404 from a reply, keep waiting, as 7/MDP specifies.
    /// <see cref="Timeout.InfiniteTimeSpan"/> never answers 404. Default 10 s: time for a restarted worker to come back.
    /// </summary>
    public TimeSpan ServiceGracePeriod { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Service for stock REQ clients, which name none.</summary>
    public string DefaultService { get; init; } = "echo";

    /// <summary>
    /// CURVE encryption and authentication (native transport only): this side's secret certificate, the allow-list
    /// and the policy file. Off by default; docs/security.md.
    /// </summary>
    // A fresh instance, for the same reason as Transport: binding must never change a Default.
    public CourierSecurityOptions Security { get; init; } = new();

    /// <summary>Socket limits and ZMTP heartbeats.</summary>
    // A fresh instance, not TransportOptions.Default: the configuration binder sets a nested record's properties in place,
    // and binding "Transport:…" must not change the process-wide default.
    public TransportOptions Transport { get; init; } = new();

    /// <summary>Where logs go. Silent by default.</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;

    /// <summary>Clock for heartbeats and expiry; replace it in tests.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        OptionsGuard.RequireEndpoint(Endpoint, EndpointUse.Bind, nameof(CourierBrokerOptions), nameof(Endpoint));
        Require(HeartbeatInterval > TimeSpan.Zero, nameof(HeartbeatInterval), "must be positive");
        Require(HeartbeatLiveness > 0, nameof(HeartbeatLiveness), "must be positive");
        Require(MaxWorkerDeaths > 0, nameof(MaxWorkerDeaths), "must be positive");
        Require(MaxQueuedPerService > 0, nameof(MaxQueuedPerService), "must be positive");
        Require(MaxQueued > 0, nameof(MaxQueued), "must be positive");
        Require(DispatchAffinity >= 0, nameof(DispatchAffinity), "must be zero or more");
        Require(MaxQueuedBytes > 0, nameof(MaxQueuedBytes), "must be positive");
        Require(MaxServices > 0, nameof(MaxServices), "must be positive");
        Require(IdleServiceTimeout >= TimeSpan.Zero, nameof(IdleServiceTimeout), "must be zero or more");
        Require(MaxRequestSize > 0, nameof(MaxRequestSize), "must be positive");
        Require(!string.IsNullOrWhiteSpace(DefaultService), nameof(DefaultService), "must not be empty");
        Require(ServiceGracePeriod >= TimeSpan.Zero || ServiceGracePeriod == Timeout.InfiniteTimeSpan, nameof(ServiceGracePeriod), "must be zero or more, or Timeout.InfiniteTimeSpan");
        ArgumentNullException.ThrowIfNull(Transport);
        Transport.Validate();
        ArgumentNullException.ThrowIfNull(Security);
        Security.Validate(nameof(CourierBrokerOptions), listens: true);
        ArgumentNullException.ThrowIfNull(LoggerFactory);
        ArgumentNullException.ThrowIfNull(TimeProvider);
    }

    private static void Require(bool ok, string setting, string rule) => OptionsGuard.Require(ok, nameof(CourierBrokerOptions), setting, rule);
}
