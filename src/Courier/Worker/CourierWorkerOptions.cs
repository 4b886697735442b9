using Courier.Client;
using Courier.Internal;
using Courier.Security;
using Courier.Transport;
using Courier.Transport.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Courier.Worker;

/// <summary>Settings of a <see cref="CourierWorker"/>. Start from <see cref="Default"/> and change what you need with <c>with</c>.</summary>
public sealed record CourierWorkerOptions
{
    /// <summary>The defaults: broker <c>tcp://127.0.0.1:5555</c>, service <c>echo</c>, 100 requests at once and 100 more waiting, heartbeat 2.5 s × 3.</summary>
    public static CourierWorkerOptions Default { get; } = new();

    /// <summary>The broker's endpoint: <c>tcp://host:port</c>, <c>ipc://path</c> or <c>inproc://name</c>. Unused when <see cref="BrokerEndpoints"/> is set.</summary>
    public string BrokerEndpoint { get; init; } = "tcp://127.0.0.1:5555";

    /// <summary>
    /// Several brokers to serve at once, so that no single broker is lost: the worker registers with each (its own
    /// connection, heartbeats and reconnects) and takes up to each service's concurrency from each. Empty, the default,
    /// means <see cref="BrokerEndpoint"/> alone.
    /// </summary>
    /// <remarks>An empty default, not one holding <see cref="BrokerEndpoint"/>: a configured list must replace it, not follow it.</remarks>
    public IReadOnlyList<string> BrokerEndpoints { get; init; } = [];

    /// <summary>
    /// The service of a worker created with a handler (<c>new CourierWorker(options, handler)</c>). A worker of several
    /// services maps each with <see cref="CourierWorker.Map"/> instead.
    /// </summary>
    public string Service { get; init; } = "echo";

    /// <summary>
    /// This instance's name, for logs and <c>whoami</c>. A Courier broker (courier/4) is told it too, and shows it in its
    /// logs and <c>mmi.workers</c>: printable, at most 64 bytes of UTF-8 are sent (control characters become <c>?</c>).
    /// </summary>
    public string Name { get; init; } = Environment.MachineName;

    /// <summary>
    /// Requests of each service handled at once, unless <see cref="CourierWorker.Map"/> says otherwise for a service. A
    /// Courier broker keeps up to this many of a service outstanding to the worker, plus <see cref="Prefetch"/>; a plain
    /// 7/MDP broker sends one at a time whatever this says. Whatever a broker sends, the worker runs no more: past this
    /// plus its <see cref="Prefetch"/> it answers 429, which its broker gives to another worker (503 to a broker before
    /// courier/6).
    /// </summary>
    public int Concurrency { get; init; } = 100;

    /// <summary>
    /// Requests of each service a Courier broker may hand this worker beyond its <see cref="Concurrency"/>: they wait in
    /// the worker, in arrival order, for a handler's place. Default 100; 0 takes only what can start at once. A service
    /// holds at most as many waiting as it runs at once: one mapped with a concurrency of 4 holds 4 waiting, not 100.
    /// <see cref="CourierWorker.Map"/> may set a service's own.
    /// </summary>
    /// <remarks>
    /// A broker counts a request outstanding from the moment it sends it until its reply is back, so without requests
    /// waiting here a worker whose handlers finish fast sits idle while its replies travel to the broker and new requests
    /// travel back (brokered 64 B at 4 × 100 in flight: 5–20 % fewer requests a second, docs/performance.md). The cost:
    /// a request waiting here is not given to another worker that frees up first, and a request that waited past its
    /// deadline or was cancelled by its caller is not run: the worker answers it 504 at the caller's CANCEL, or at its
    /// first tick past its deadline, which frees its place at the broker. A graceful stop hands the waiting ones
    /// back at once (503: the broker gives them to another worker). If the worker dies, the broker cannot tell them from
    /// the running ones: an at-most-once request among them fails with 520 like those (docs/guide.md §5).
    /// </remarks>
    public int Prefetch { get; init; } = 100;

    /// <summary>How often the worker sends HEARTBEAT to the broker; the broker should use the same interval.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(2.5);

    /// <summary>Heartbeat intervals of silence from the broker after which the worker reconnects.</summary>
    public int HeartbeatLiveness { get; init; } = 3;

    /// <summary>First delay before reconnecting to a broker that went away; it doubles up to <see cref="ReconnectDelayMax"/>.</summary>
    public TimeSpan ReconnectDelay { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Longest delay between reconnects.</summary>
    public TimeSpan ReconnectDelayMax { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// False (the default): each handler runs on the thread pool. True: a handler starts on the worker's loop thread and
    /// runs there until its first incomplete await; one that completes synchronously is answered without a thread hop
    /// (about a third less worker CPU per request for an echo). Only for handlers that never block or compute for long
    /// before their first await: while one runs, the loop neither reads requests nor heartbeats.
    /// </summary>
    public bool RunHandlersInline { get; init; }

    /// <summary>
    /// How long a graceful stop waits for requests in flight; then, after DISCONNECT, at most as long again for the broker
    /// to confirm it read their replies (<see cref="CourierWorker.StopAsync"/>).
    /// </summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary><see cref="ClientProtocol.Auto"/> asks the broker (8/MMI <c>mmi.courier</c>) and uses Courier's extensions only if it answers.</summary>
    public ClientProtocol Protocol { get; init; } = ClientProtocol.Auto;

    /// <summary>
    /// CURVE encryption (native transport only): this side's secret certificate and the public certificate of the
    /// server or broker. Off by default; docs/security.md.
    /// </summary>
    // A fresh instance, for the same reason as Transport: binding must never change a Default.
    public CourierSecurityOptions Security { get; init; } = new();

    /// <summary>
    /// Socket limits and ZMTP heartbeats. A worker sends no ZMTP heartbeats unless asked (<c>Transport.HeartbeatInterval</c>
    /// zero by default): its 7/MDP heartbeats (<see cref="HeartbeatInterval"/>) already keep its connection busy through a
    /// proxy and find a dead broker, and a ZMTP heartbeat timer costs each one-at-a-time request ~6 % of its round trip
    /// (docs/performance.md).
    /// </summary>
    // A fresh instance, not TransportOptions.Default: the configuration binder sets a nested record's properties in place,
    // and binding "Transport:…" must not change the process-wide default.
    public TransportOptions Transport { get; init; } = new() { HeartbeatInterval = TimeSpan.Zero };

    /// <summary>Where logs go. Silent by default.</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;

    /// <summary>Clock for heartbeats and backoff; replace it in tests.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        OptionsGuard.RequireEndpoint(BrokerEndpoint, EndpointUse.Connect, nameof(CourierWorkerOptions), nameof(BrokerEndpoint));
        Require(BrokerEndpoints is not null, nameof(BrokerEndpoints), "must not be null; leave it empty for BrokerEndpoint alone");
        for (var i = 0; i < BrokerEndpoints!.Count; i++)
        {
            OptionsGuard.RequireEndpoint(BrokerEndpoints[i], EndpointUse.Connect, nameof(CourierWorkerOptions), nameof(BrokerEndpoints), i);
        }

        Require(BrokerEndpoints.Distinct(StringComparer.Ordinal).Count() == BrokerEndpoints.Count, nameof(BrokerEndpoints), "must not name a broker twice");
        Require(global::Courier.Protocol.Internal.Mdp.DecodeServiceName(System.Text.Encoding.UTF8.GetBytes(Service ?? "")) is not null
            && !Service!.StartsWith("mmi.", StringComparison.Ordinal), nameof(Service), "must be 1-255 bytes of printable UTF-8, not starting with 'mmi.'");
        Require(!string.IsNullOrWhiteSpace(Name), nameof(Name), "must not be empty");
        Require(Concurrency > 0, nameof(Concurrency), "must be positive");
        Require(Prefetch >= 0 && (long)Concurrency + Prefetch <= MaxOutstanding, nameof(Prefetch), $"must be 0 or more, and Concurrency + Prefetch at most {MaxOutstanding:N0}");
        Require(HeartbeatInterval > TimeSpan.Zero, nameof(HeartbeatInterval), "must be positive");
        Require(HeartbeatLiveness > 0, nameof(HeartbeatLiveness), "must be positive");
        Require(ReconnectDelay > TimeSpan.Zero, nameof(ReconnectDelay), "must be positive");
        Require(ReconnectDelayMax >= ReconnectDelay, nameof(ReconnectDelayMax), "must be at least ReconnectDelay");
        Require(DrainTimeout >= TimeSpan.Zero, nameof(DrainTimeout), "must not be negative");
        Require(Enum.IsDefined(Protocol), nameof(Protocol), "is not a known protocol");
        ArgumentNullException.ThrowIfNull(Transport);
        Transport.Validate();
        ArgumentNullException.ThrowIfNull(Security);
        Security.Validate(nameof(CourierWorkerOptions), listens: false);
        ArgumentNullException.ThrowIfNull(LoggerFactory);
        ArgumentNullException.ThrowIfNull(TimeProvider);
    }

    /// <summary>The most requests of one service a worker declares to a broker (<see cref="Concurrency"/> + <see cref="Prefetch"/>).</summary>
    internal const int MaxOutstanding = 1_000_000;

    /// <summary>The brokers the worker registers with: <see cref="BrokerEndpoints"/>, or <see cref="BrokerEndpoint"/> when it is empty.</summary>
    internal IReadOnlyList<string> Brokers => BrokerEndpoints.Count > 0 ? BrokerEndpoints : [BrokerEndpoint];

    private static void Require(bool ok, string setting, string rule) => OptionsGuard.Require(ok, nameof(CourierWorkerOptions), setting, rule);
}
