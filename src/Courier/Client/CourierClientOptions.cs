using Courier.Internal;
using Courier.Security;
using Courier.Transport;
using Courier.Transport.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Courier.Client;

/// <summary>
/// Settings of a <see cref="CourierClient"/>. Start from <see cref="Default"/> and change what you need with <c>with</c>,
/// or bind them from configuration (<c>section.Get&lt;CourierClientOptions&gt;()</c>): every setting has a default, and a
/// configured <see cref="Endpoints"/> list is the whole list.
/// </summary>
public sealed record CourierClientOptions
{
    /// <summary>The endpoint an empty <see cref="Endpoints"/> means.</summary>
    internal const string DefaultEndpoint = "tcp://127.0.0.1:5555";

    /// <summary>The defaults: <c>tcp://127.0.0.1:5555</c>, 2.5 s per attempt, 3 retries, no overall deadline, protocol <see cref="ClientProtocol.Auto"/>.</summary>
    public static CourierClientOptions Default { get; } = new();

    /// <summary>
    /// Endpoints to connect to (<c>tcp://host:port</c>, <c>ipc://path</c>, <c>inproc://name</c>): one connection to each,
    /// requests spread over those that answer (the least loaded first), a refused or idempotent request retried on
    /// another, a dead one's requests moved (failover). Empty, the default, means <c>tcp://127.0.0.1:5555</c>.
    /// </summary>
    /// <remarks>
    /// The default is an empty list, not a list holding the default endpoint, because the configuration binder adds a
    /// configured list to whatever list the property holds: a configured endpoint must replace the default, not follow it.
    /// </remarks>
    public IReadOnlyList<string> Endpoints { get; init; } = [];

    /// <summary>
    /// How long one attempt waits for its reply before the request is sent again (alone, with the same id) and its
    /// connection is asked whether it is alive; a connection that does not answer within this long either is replaced.
    /// Anything past a century (<see cref="TimeSpan.MaxValue"/>, say) counts as a century: no limit in practice.
    /// </summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(2.5);

    /// <summary>Resends after the first attempt; a request is sent at most <c>Retries + 1</c> times.</summary>
    public int Retries { get; init; } = 3;

    /// <summary>
    /// Overall time limit of a request across all attempts; null for none beyond the attempts themselves. Anything past a
    /// century counts as a century.
    /// </summary>
    public TimeSpan? Deadline { get; init; }

    /// <summary>Client protocol; <see cref="ClientProtocol.Auto"/> works against Courier and third-party 7/MDP peers alike.</summary>
    public ClientProtocol Protocol { get; init; } = ClientProtocol.Auto;

    /// <summary>Requests outstanding on each connection at once; more wait in the client, in order.</summary>
    public int MaxInFlight { get; init; } = 10_000;

    /// <summary>
    /// False (the default): an awaited request resumes its caller on the thread pool (and a loop that answered one or two
    /// callers and has nothing else in flight looks for their next request for some 30 µs of CPU before it sleeps, native
    /// transport: a sequential caller's next request is then taken without a wake-up). True: the reply completes the
    /// request on the client's loop thread and the caller's continuation runs right there, without a thread hop (about
    /// half the client's CPU per request under pipelined load). Only for continuations that never block or compute for
    /// long: while one runs, the client neither sends nor receives. A request made from such a continuation is sent when
    /// the current batch of replies has been handled.
    /// </summary>
    public bool RunContinuationsInline { get; init; }

    /// <summary>
    /// False (the default): each reply frame is copied into an array the caller keeps. True: a frame of 8 KiB or more of
    /// a Courier reply (not batched, not plain 7/MDP) comes as libzmq received it (native memory: no copy, no
    /// large-object-heap array; native transport only), lent until the reply is disposed
    /// (<see cref="CourierReply.Dispose"/>). Then every reply must be disposed once read (<c>using var reply = await
    /// client.RequestAsync(…)</c>), by every caller of this client: one that is not keeps its frames' native memory for
    /// as long as the process runs, and so does a request abandoned rather than cancelled (a <c>WaitAsync</c> timeout, a
    /// task never awaited; cancel through the token instead, and the client gives a late reply back itself). Nothing
    /// frees it behind the caller's back, so no span of it is ever read after it was freed. A handler cannot return a
    /// lent reply's frames as its own reply once disposed: copy them (<c>ToArray()</c>).
    /// </summary>
    public bool LendLargeReplies { get; init; }

    /// <summary>
    /// CURVE encryption (native transport only): this side's secret certificate and the public certificate of the
    /// server or broker. Off by default; docs/security.md.
    /// </summary>
    // A fresh instance, for the same reason as Transport: binding must never change a Default.
    public CourierSecurityOptions Security { get; init; } = new();

    /// <summary>Socket limits and heartbeats.</summary>
    // A fresh instance, not TransportOptions.Default: the configuration binder sets a nested record's properties in place,
    // and binding "Transport:…" must not change the process-wide default.
    public TransportOptions Transport { get; init; } = new();

    /// <summary>Where logs go. Silent by default.</summary>
    public ILoggerFactory LoggerFactory { get; init; } = NullLoggerFactory.Instance;

    /// <summary>Clock for timeouts and deadlines; replace it in tests.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Total attempts a request gets.</summary>
    public int MaxAttempts => Retries + 1;

    /// <summary>The endpoints the client connects to: <see cref="Endpoints"/>, or the default one when it is empty.</summary>
    internal IReadOnlyList<string> ConnectEndpoints => Endpoints.Count > 0 ? Endpoints : [DefaultEndpoint];

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        Require(Endpoints is not null, nameof(Endpoints), "must not be null; leave it empty for tcp://127.0.0.1:5555");
        for (var i = 0; i < Endpoints!.Count; i++)
        {
            OptionsGuard.RequireEndpoint(Endpoints[i], EndpointUse.Connect, nameof(CourierClientOptions), nameof(Endpoints), i);
        }

        Require(Timeout > TimeSpan.Zero, nameof(Timeout), "must be positive");
        Require(Retries >= 0, nameof(Retries), "must not be negative");
        Require(Deadline is null || Deadline > TimeSpan.Zero, nameof(Deadline), "must be positive when set");
        Require(Enum.IsDefined(Protocol), nameof(Protocol), "is not a known protocol");
        Require(MaxInFlight > 0, nameof(MaxInFlight), "must be positive");
        ArgumentNullException.ThrowIfNull(Transport);
        Transport.Validate();
        ArgumentNullException.ThrowIfNull(Security);
        Security.Validate(nameof(CourierClientOptions), listens: false);
        ArgumentNullException.ThrowIfNull(LoggerFactory);
        ArgumentNullException.ThrowIfNull(TimeProvider);
    }

    private static void Require(bool ok, string setting, string rule) => OptionsGuard.Require(ok, nameof(CourierClientOptions), setting, rule);
}
