using Courier.Internal;
using Courier.Security;
using Courier.Transport;
using Courier.Transport.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Courier.Server;

/// <summary>Settings of a <see cref="CourierServer"/>. Start from <see cref="Default"/> and change what you need with <c>with</c>.</summary>
public sealed record CourierServerOptions
{
    /// <summary>The defaults: bind <c>tcp://127.0.0.1:5555</c>, 1,024 concurrent handlers, 10,000 queued, 1 MiB requests, 10 s drain.</summary>
    public static CourierServerOptions Default { get; } = new();

    /// <summary>
    /// ZeroMQ endpoint to bind: <c>tcp://host:port</c>, <c>ipc://path</c> or <c>inproc://name</c> (in-process, for clients
    /// on the same transport). A TCP host of <c>*</c> binds every interface; a TCP port of <c>*</c> or <c>0</c> picks a free
    /// port (see <see cref="CourierServer.Endpoint"/>).
    /// </summary>
    public string Endpoint { get; init; } = "tcp://127.0.0.1:5555";

    /// <summary>This instance's name, answered by the <c>whoami</c> service and used in logs.</summary>
    public string Name { get; init; } = Environment.MachineName;

    /// <summary>Service that serves requests without a 7/MDP header (stock REQ clients). Default <c>echo</c>.</summary>
    public string DefaultService { get; init; } = "echo";

    /// <summary>Handlers running at once. Requests beyond this wait in a queue.</summary>
    public int MaxConcurrency { get; init; } = 1024;

    /// <summary>
    /// False (the default): each handler runs on the thread pool. True: a handler starts on the server's loop thread and
    /// runs there until its first incomplete await; one that completes synchronously is answered without a thread hop.
    /// Only for handlers that never block or compute for long before their first await: while one runs, the loop
    /// neither reads nor answers anyone else.
    /// </summary>
    public bool RunHandlersInline { get; init; }

    /// <summary>Requests waiting for a handler before new ones are refused with 503.</summary>
    public int MaxQueuedRequests { get; init; } = 10_000;

    /// <summary>Largest request body (all body frames together) served; larger ones are answered 413.</summary>
    public int MaxRequestSize { get; init; } = 1024 * 1024;

    /// <summary>
    /// How long a graceful stop waits for requests in flight before cancelling their handlers; then at most as long again
    /// for the transport to write the large replies before the socket closes.
    /// </summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// CURVE encryption and authentication (native transport only): this side's secret certificate, the allow-list
    /// and the policy file. Off by default; docs/security.md.
    /// </summary>
    // A fresh instance, for the same reason as Transport: binding must never change a Default.
    public CourierSecurityOptions Security { get; init; } = new();

    /// <summary>Socket limits and heartbeats.</summary>
    // A fresh instance, not TransportOptions.Default: the configuration binder sets a nested record's properties in place,
    // and binding "Transport:…" must not change the process-wide default.
    public TransportOptions Transport { get; init; } = new();

    /// <summary>Where logs go. Silent by default.</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;

    /// <summary>Clock used for drain timing; replace it in tests.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        OptionsGuard.RequireEndpoint(Endpoint, EndpointUse.Bind, nameof(CourierServerOptions), nameof(Endpoint));

        Require(!string.IsNullOrWhiteSpace(Name), nameof(Name), "must not be empty");
        Require(!string.IsNullOrWhiteSpace(DefaultService), nameof(DefaultService), "must not be empty");
        Require(MaxConcurrency > 0, nameof(MaxConcurrency), "must be positive");
        Require(MaxQueuedRequests >= 0, nameof(MaxQueuedRequests), "must not be negative");
        Require(MaxRequestSize > 0, nameof(MaxRequestSize), "must be positive");
        Require(DrainTimeout >= TimeSpan.Zero, nameof(DrainTimeout), "must not be negative");
        ArgumentNullException.ThrowIfNull(Transport);
        Transport.Validate();
        ArgumentNullException.ThrowIfNull(Security);
        Security.Validate(nameof(CourierServerOptions), listens: true);
        ArgumentNullException.ThrowIfNull(LoggerFactory);
        ArgumentNullException.ThrowIfNull(TimeProvider);
    }

    private static void Require(bool ok, string setting, string rule) => OptionsGuard.Require(ok, nameof(CourierServerOptions), setting, rule);
}
