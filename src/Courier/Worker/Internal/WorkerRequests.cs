using System.Text;
using Courier.Diagnostics.Internal;
using Courier.Internal;
using Courier.Protocol;
using Courier.Protocol.Internal;
using Courier.Server;
using Courier.Serving.Internal;
using Courier.Transport.Internal;
using Microsoft.Extensions.Logging;

namespace Courier.Worker.Internal;

/// <summary>
/// The requests a worker holds, whichever connection brought them: admitted against each service's room, run by the
/// handler runner or waiting for a place, withdrawn at their caller's CANCEL, answered on the connection they came by
/// while it is still the one the broker knows. Its state is the handlers' (runner, calls by token, waiting queues) and
/// the drain's; the connections are <see cref="WorkerEngine"/>'s. Loop thread only, except <see cref="InFlight"/> and
/// the gauges.
/// </summary>
internal sealed class WorkerRequests : IGaugeSource, IDisposable
{
    private static readonly byte[] DeadlineWhileWaiting = Encoding.UTF8.GetBytes("the request's deadline passed while it waited for a handler");
    private static readonly byte[] CancelledWhileWaiting = Encoding.UTF8.GetBytes("the request's caller cancelled it while it waited for a handler");
    private readonly string _name;
    private readonly string _displayName;
    private readonly ILogger _logger;
    private readonly TimeProvider _clock;
    private readonly ViolationLog _violations;
    private readonly HandlerRunner<WorkerJob> _runner;
    private readonly Dictionary<ulong, HandlerCall> _calls = [];
    private readonly IReadOnlyList<WorkerService> _services;
    private readonly Queue<WorkerService> _freed = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Action _flush;
    private readonly Action<WaitingRequest> _refuseExpired;
    private readonly Func<WaitingRequest, bool> _expired;
    private long _now;
    private readonly IDisposable _gauges;
    private bool _startingWaiting;

    /// <summary>Requests of <paramref name="services"/>; <paramref name="flush"/> sends the replies packed this turn, once the last handler of a drain finishes.</summary>
    public WorkerRequests(
        CourierWorkerOptions options, IReadOnlyList<WorkerService> services, ITransportLoop loop, ViolationLog violations, ILogger logger, Action flush)
    {
        _name = WorkerName.Sanitize(options.Name);
        _displayName = options.Name;
        _logger = logger;
        _clock = options.TimeProvider;
        _violations = violations;
        _services = services;
        _flush = flush;
        _refuseExpired = waiting => Refuse(waiting, CourierStatus.DeadlineExceeded, DeadlineWhileWaiting);
        _expired = waiting => waiting.Call is { } call && call.Deadline <= _now;
        // The broker bounds what it gives per service by the capacity declared in READY; the worker checks it too
        // (Admit), since a broker may be a third party's, or hostile.
        _runner = new HandlerRunner<WorkerJob>(TelemetryRole.Worker, loop, int.MaxValue, 0, options.RunHandlersInline, "worker stopped before the request finished", logger, Complete)
        {
            OnIdle = OnIdle,
            Abandon = static job => job.Lent.Dispose(),
            MaxReplyFrames = options.Transport.MaxBodyFrames,
        };
        _gauges = LiveGauges.Register(this);
    }

    public int InFlight => _runner.InFlight;

    /// <summary>No handler runs and no request waits: every request taken was answered. Loop thread.</summary>
    public bool Idle => _runner.Idle && _services.All(s => s.Waiting.Count == 0);

    /// <summary>A graceful stop began: new requests are refused 503.</summary>
    public bool Draining { get; private set; }

    // Set by the stop (any thread) once the drain is over and the handlers' tokens fire.
    private bool _handlersCancelled;

    /// <summary>Completes once a drain began and no handler runs any more.</summary>
    public Task Drained => _drained.Task;

    public void OnTick(long now)
    {
        _runner.OnTick(now);

        // A waiting request whose deadline passed is answered now rather than at its turn, so that its place at the
        // broker frees up while the handlers ahead of it still run. A queue is walked only when one of its deadlines
        // may have passed.
        _now = now;
        foreach (var service in _services)
        {
            if (service.Waiting.Count > 0 && service.Waiting.EarliestDeadline <= now)
            {
                service.Waiting.Drop(_expired, _refuseExpired);
            }
        }
    }

    /// <summary>Graceful stop begins: no new work; <see cref="Drained"/> completes once the handlers are done.</summary>
    public void BeginDrain()
    {
        Draining = true;

        // Requests waiting for a place never ran: answered 503 now, so that their callers may send them elsewhere at once.
        foreach (var service in _services)
        {
            while (service.Waiting.TryTake(out var waiting))
            {
                Refuse(waiting, CourierStatus.Unavailable, MdpWorker.StoppingMessage);
            }
        }

        if (_runner.Idle)
        {
            _drained.TrySetResult();
        }
    }

    /// <summary>The drain is over: running handlers' tokens fire, and a 7/MDP broker's requests are dropped unrun from now on.</summary>
    public Task CancelHandlersAsync()
    {
        Volatile.Write(ref _handlersCancelled, true);
        return _runner.CancelAsync();
    }

    /// <summary>The loop's stop hook: lent frames of requests that will not be answered now go back (<see cref="HandlerRunner{TContext}.OnLoopStopped"/>).</summary>
    public void OnStopped()
    {
        _runner.OnLoopStopped();
        foreach (var service in _services)
        {
            while (service.Waiting.TryTake(out var waiting))
            {
                waiting.Body.Lent.Dispose();
            }
        }
    }

    /// <summary>
    /// While stopping, a request from a Courier broker is answered 503 at once, before anything else is asked of it; one
    /// that crossed the connection's DISCONNECT, from any broker, is dropped unrun and unanswered: true then.
    /// </summary>
    public bool RefuseWhileStopping(WorkerConnection connection, ReplyAddress address)
    {
        if (connection.SaidDisconnect)
        {
            // The broker gave it elsewhere (or, for 7/MDP, may hear nothing more): running it would be a second run with
            // a token already cancelled, and answering it a violation.
            return true;
        }

        if (!Draining)
        {
            return false;
        }

        if (connection.Negotiation.Mode == PeerMode.Courier)
        {
            connection.Reply(address, CourierStatus.Unavailable, [MdpWorker.StoppingMessage]);
            return true;
        }

        // A 7/MDP broker can be told nothing: its requests run while the drain lasts (the client's retry would find the
        // worker gone anyway); once the handlers are cancelled one would start with its token fired: dropped unrun.
        return Volatile.Read(ref _handlersCancelled);
    }

    /// <summary>
    /// Whether a request for <paramref name="service"/> may run or wait now; otherwise it is answered at once: 429 (503
    /// to a broker before courier/6) when the service already runs its <c>Concurrency</c> of handlers and holds its
    /// <c>Prefetch</c> of requests waiting (whatever the broker sends, a worker never runs or holds more: its body is not
    /// even copied).
    /// </summary>
    public bool Admit(WorkerConnection connection, WorkerService service, ReplyAddress address)
    {
        if (service.HasRoom)
        {
            return true;
        }

        // 429 to a broker that knows it (courier/6): the worker is not stopping, and the broker must not take it for
        // stopping. Older brokers know only 503, which they requeue.
        var status = connection.Negotiation.PeerRequeuesFull ? CourierStatus.TooManyRequests : CourierStatus.Unavailable;
        if (_violations.Admit(ViolationKind.OverCapacity))
        {
            WorkerLog.OverCapacity(_logger, _displayName, service.Name, service.Concurrency, service.Prefetch, status);
        }

        connection.Reply(
            address,
            status,
            [Encoding.UTF8.GetBytes($"worker {_name} already runs {service.Concurrency} requests of {service.Name}, and {service.Prefetch} more wait")]);
        return false;
    }

    /// <summary>Runs an admitted request now, or queues it for its service's next free place.</summary>
    public void Run(
        WorkerConnection connection, WorkerService service, ReplyAddress address, LentBody body, uint budgetMs = 0, ReadOnlyMemory<byte> headers = default)
    {
        if (HeaderBlock.Check(headers.Span) is { } problem)
        {
            // The broker checked them; a worker checks again rather than trust its peer.
            body.Lent.Dispose();
            connection.Reply(address, CourierStatus.BadRequest, [Encoding.UTF8.GetBytes(problem)]);
            return;
        }

        // A courier/5 request's handler gets a token of its own: it fires at the deadline and on the broker's CANCEL.
        HandlerCall? call = null;
        if (connection.Negotiation.PeerDelivery && address.PlainAddress is null)
        {
            call = new WaitingCall(Delivery.DeadlineOf(budgetMs, _clock));
            _calls[address.Token] = call;
        }

        var request = new WaitingRequest(connection, address, body, headers, call);
        if (service.Running < service.Concurrency)
        {
            Start(service, request);
        }
        else
        {
            service.Waiting.Add(request); // Admit saw room for it
        }
    }

    /// <summary>The broker cancelled a request it gave this worker: its caller gave up (courier/5); the handler's token fires.</summary>
    public void OnCancel(WorkerConnection connection, ulong token)
    {
        if (_calls.TryGetValue(token, out var call) && connection.Negotiation.PeerDelivery)
        {
            call.Fire(CallCancel.Caller);

            // Still waiting for a handler: answered now, so that the broker's place for it frees up at once; it never runs.
            if (call is WaitingCall { Queue: { } queue } waiting && queue.Withdraw(waiting))
            {
                _calls.Remove(token);
                if (connection.CanAnswer)
                {
                    connection.Reply(new ReplyAddress(token, null), CourierStatus.DeadlineExceeded, [CancelledWhileWaiting]);
                }
            }
        }
    }

    /// <summary>
    /// A link's connection closed: what waited for a handler came by it, and the broker takes it back; its places go to
    /// the requests of the next connection.
    /// </summary>
    public void DropWaitingOf(WorkerLink link)
    {
        foreach (var service in link.Services)
        {
            service.Waiting.Drop(static waiting => waiting.Connection.Closed, Drop);
        }
    }

    private void Start(WorkerService service, WaitingRequest request)
    {
        var (connection, address, body, headers, call) = request;
        var handled = new CourierRequest(service.Name, body.Frames, headers);
        var parent = TraceHeaders.Parent(headers.Span);
        var job = new WorkerJob(connection, address, service.Take(), call, body.Lent); // the place last: nothing after it throws before the runner has it
        if (!_runner.TryRun(service.Handler, handled, job, call, parent))
        {
            // Not reached while Admit keeps to the service's concurrency; answered all the same, never left hanging.
            job.Slot.Release();
            body.Lent.Dispose();
            connection.Reply(address, CourierStatus.Unavailable, [Encoding.UTF8.GetBytes($"worker {_name} is busy")]);
        }
    }

    /// <summary>
    /// A handler of <paramref name="service"/> finished: the requests waiting for its place start, oldest first. Inline
    /// handlers that finish at once come back here: they only queue their service, and the outermost call starts it, so
    /// that a long queue never becomes a deep stack.
    /// </summary>
    private void StartWaiting(WorkerService service)
    {
        if (service.Waiting.Count == 0)
        {
            return;
        }

        _freed.Enqueue(service);
        if (_startingWaiting)
        {
            return;
        }

        _startingWaiting = true;
        try
        {
            while (_freed.TryDequeue(out var freed))
            {
                while (freed.Running < freed.Concurrency && freed.Waiting.TryTake(out var waiting))
                {
                    try
                    {
                        StartOrRefuse(freed, waiting);
                    }
#pragma warning disable CA1031 // This runs inside another request's completion: a fault here must not fail that one's answer.
                    catch (Exception ex)
#pragma warning restore CA1031
                    {
                        LoopGuard.Report(ex, _logger, "starting a waiting request");
                        Drop(waiting);
                    }
                }
            }
        }
        finally
        {
            _startingWaiting = false;
        }
    }

    private void StartOrRefuse(WorkerService service, WaitingRequest waiting)
    {
        if (!waiting.Connection.CanAnswer)
        {
            // Its connection is gone: the broker has taken it back (requeued, or answered its caller), and no reply can
            // reach it any more.
            Drop(waiting);
            return;
        }

        // A caller's CANCEL withdrew its request already (OnCancel): only a deadline can have passed while it waited.
        if (waiting.Call is { } call && call.Deadline <= _clock.GetTimestamp())
        {
            Refuse(waiting, CourierStatus.DeadlineExceeded, DeadlineWhileWaiting);
            return;
        }

        Start(service, waiting);
    }

    /// <summary>Answers a waiting request that will not run, and lets it go.</summary>
    private void Refuse(WaitingRequest waiting, int status, byte[] message)
    {
        Forget(waiting);
        if (waiting.Connection.CanAnswer)
        {
            waiting.Connection.Reply(waiting.Address, status, [message]);
        }

        waiting.Body.Lent.Dispose();
    }

    /// <summary>Lets a waiting request go unanswered: nobody can receive its answer.</summary>
    private void Drop(WaitingRequest waiting)
    {
        Forget(waiting);
        waiting.Body.Lent.Dispose();
    }

    private void Forget(WaitingRequest waiting) => Forget(waiting.Address, waiting.Call);

    /// <summary>A request's call leaves the table by its token, unless the token now names another (a broker may reuse one).</summary>
    private void Forget(ReplyAddress address, HandlerCall? call)
    {
        if (call is not null && _calls.TryGetValue(address.Token, out var current) && ReferenceEquals(current, call))
        {
            _calls.Remove(address.Token);
        }
    }

    private void Complete(WorkerJob job, HandlerOutcome outcome)
    {
        job.Slot.Release();
        Forget(job.Address, job.Call);

        if (job.Connection.CanAnswer)
        {
            outcome = outcome.For(job.Slot.Service.Idempotent);
            job.Connection.Reply(job.Address, outcome.Status, outcome.Body, outcome.Headers);
        }

        // After the reply: its body may be the request's, as an echo's is (sent on without a copy, libzmq holds it now).
        job.Lent.Dispose();
        StartWaiting(job.Slot.Service);
    }

    private void OnIdle()
    {
        if (Draining)
        {
            _flush();
            _drained.TrySetResult();
        }
    }

    /// <summary>Handlers running and requests waiting: read off the loop by a metrics collection.</summary>
    void IGaugeSource.Read(GaugeReadings readings)
    {
        readings.Add(Gauge.WorkerActive, _runner.InFlight);
        foreach (var service in _services)
        {
            readings.Add(Gauge.WorkerQueued, service.Waiting.CountNow, service.Name);
        }
    }

    public void Dispose()
    {
        _gauges.Dispose();
        _runner.Dispose();
    }
}
