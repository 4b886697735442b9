using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Courier.Diagnostics.Internal;
using Courier.Protocol;
using Courier.Server;
using Courier.Transport.Internal;
using Microsoft.Extensions.Logging;

namespace Courier.Serving.Internal;

/// <summary>
/// Runs handlers for the server and the worker alike: at most <c>maxConcurrency</c> at once, more waiting in a bounded
/// queue; on the thread pool, or inline on the loop (<c>runInline</c>) where a handler that completes synchronously is
/// answered without a thread hop; cancelled when the owner stops; every exception mapped to a status here, once.
/// <paramref name="complete"/> gets each outcome on the loop thread. Loop thread only, except where said.
/// </summary>
/// <typeparam name="TContext">What the owner needs to answer: a route, a token.</typeparam>
internal sealed class HandlerRunner<TContext>(
    string role,
    ITransportLoop loop,
    int maxConcurrency,
    int maxQueued,
    bool runInline,
    string stoppedMessage,
    ILogger logger,
    Action<TContext, HandlerOutcome> complete) : IDisposable
{
    private readonly Queue<Job> _queue = new();
    private readonly ConcurrentQueue<(TContext Context, HandlerOutcome Outcome, HandlerCall? Call)> _completions = new();
    private static readonly byte[] DeadlineMessage = Encoding.UTF8.GetBytes("the request's deadline passed while its handler ran");
    private static readonly byte[] CancelledMessage = Encoding.UTF8.GetBytes("the request's caller cancelled it");
    private static readonly byte[] StoppedWaitingMessage = Encoding.UTF8.GetBytes("shutting down before a handler was free for it: not run");
    private static readonly byte[] ExpiredWaitingMessage = Encoding.UTF8.GetBytes("the request's deadline passed while it waited for a handler: not run");
    private static readonly byte[] CancelledWaitingMessage = Encoding.UTF8.GetBytes("the request's caller cancelled it while it waited for a handler: not run");
    private readonly CancellationTokenSource _cancellation = new();
    private readonly byte[] _stoppedMessage = Encoding.UTF8.GetBytes(stoppedMessage);
    private Action? _drainCompletions;
    private int _completionsScheduled;
    private int _inFlight;

    private readonly HandlerCalls _calls = new();

    /// <summary>A request to run; <paramref name="StartedAt"/> is 0 unless <c>rpc.server.call.duration</c> is measured.</summary>
    private readonly record struct Job(CourierHandler Handler, CourierRequest Request, TContext Context, HandlerCall? Call, long StartedAt, Activity? Activity);

    /// <summary>Handlers running now. Any thread.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Handlers waiting for a free slot.</summary>
    public int Queued => _queue.Count;

    /// <summary>Waiting requests whose token fired (deadline or caller): they will be answered, not run, when dequeued. Loop thread (tests).</summary>
    internal int QueuedFired => _queue.Count(job => job.Call is { Reason: not CallCancel.None });

    /// <summary>Nothing running or waiting.</summary>
    public bool Idle => _inFlight == 0 && _queue.Count == 0;

    /// <summary>Frames a reply's body may have (<see cref="Transport.TransportOptions.MaxFramesPerMessage"/> less those kept for envelopes): a longer one is answered 500.</summary>
    public int MaxReplyFrames { get; init; } = int.MaxValue;

    /// <summary>Runs when the runner becomes idle (a drain waits for it). Loop thread.</summary>
    public Action? OnIdle { get; set; }

    /// <summary>
    /// Gives back what a request's context holds (lent frames) when it will never be completed: the loop stopped while
    /// it waited for a slot, ran, or waited to be answered. Once per context, on any thread.
    /// </summary>
    public Action<TContext>? Abandon { get; init; }

    private int _loopStopped;

    /// <summary>Starts the handler or queues it; false when the queue is full too.</summary>
    /// <param name="handler">Serves the request.</param>
    /// <param name="request">The request.</param>
    /// <param name="context">What the owner needs to answer it.</param>
    /// <param name="call">
    /// A courier/5 request's own token (its deadline, its caller's CANCEL; the owner's stop as well); null for the
    /// runner's shared stop token.
    /// </param>
    /// <param name="parent">The trace context the request carried: its Server span's parent (else the span is a root).</param>
    public bool TryRun(CourierHandler handler, CourierRequest request, TContext context, HandlerCall? call = null, ActivityContext parent = default)
    {
        if (_inFlight >= maxConcurrency && _queue.Count >= maxQueued)
        {
            return false;
        }

        var job = new Job(
            handler,
            request,
            context,
            call,
            CourierMetrics.HandlerDuration.Enabled ? Stopwatch.GetTimestamp() : 0,
            CourierTracing.StartHandling(request.Service, role, parent));
        if (_inFlight < maxConcurrency)
        {
            Start(job);
        }
        else
        {
            if (call is not null)
            {
                _calls.Add(call); // a request waiting for a slot is cancelled at its deadline too
            }

            _queue.Enqueue(job);
        }

        return true;
    }

    /// <summary>Cancels the token every handler got: a graceful stop's drain time is over. Any thread.</summary>
    public Task CancelAsync()
    {
        // The shared token first: a handler stopping on its own token must find the stop already marked (503).
        var cancelled = _cancellation.CancelAsync();
        loop.Post(_calls.CancelAll);
        return cancelled;
    }

    /// <summary>Fires the tokens of handlers whose request's deadline has come. Loop thread.</summary>
    public void OnTick(long now) => _calls.FireDue(now);

    /// <summary>
    /// The loop has stopped (its stop hook; no turn runs beside this): requests still queued and outcomes still waiting
    /// for the loop are abandoned now, and handlers that finish later abandon theirs as they finish, never before: a
    /// handler may read its lent frames until then.
    /// </summary>
    public void OnLoopStopped()
    {
        Interlocked.Exchange(ref _loopStopped, 1);
        while (_queue.TryDequeue(out var job))
        {
            job.Activity?.Dispose();
            Abandon?.Invoke(job.Context);
        }

        AbandonCompletions();
    }

    /// <inheritdoc/>
    public void Dispose() => _cancellation.Dispose();

    private void AbandonCompletions()
    {
        while (_completions.TryDequeue(out var completion))
        {
            Abandon?.Invoke(completion.Context);
        }
    }

    private void Start(Job job)
    {
        Interlocked.Increment(ref _inFlight);
        if (job.Call is { Linked: false } call)
        {
            _calls.Add(call);
        }

        if (!runInline)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static s => _ = s.Runner.FinishAsync(s.Job, s.Runner.Invoke(s.Job)), (Runner: this, Job: job), preferLocal: false);
            return;
        }

        var pending = Invoke(job);
        if (!pending.IsCompletedSuccessfully)
        {
            _ = FinishAsync(job, pending);
            return;
        }

        // Answered at once, on the loop: no hop. Whoever started it (an arrival, or Finished draining the queue) starts
        // the next, so inline handlers never recurse into the queue.
        Done(job);
        var answered = Answered(job, pending.Result);
        Measure(job, answered.Status);
        Complete(job.Context, answered);
        Interlocked.Decrement(ref _inFlight);
        if (Idle)
        {
            OnIdle?.Invoke();
        }
    }

    private ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> Invoke(Job job)
    {
        // The handler runs under its span (what it awaits keeps it); the thread, a loop's or the pool's, is left as it was.
        var previous = Activity.Current;
        if (job.Activity is not null)
        {
            Activity.Current = job.Activity;
        }

        try
        {
            return job.Handler(job.Request, job.Call?.Token ?? _cancellation.Token);
        }
#pragma warning disable CA1031 // A handler that throws before its first await fails like one that throws after it.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return ValueTask.FromException<IReadOnlyList<ReadOnlyMemory<byte>>>(ex);
        }
        finally
        {
            if (job.Activity is not null)
            {
                Activity.Current = previous;
            }
        }
    }

    /// <summary><c>rpc.server.call.duration</c> and the Server span, once a handler's outcome is known. Any thread.</summary>
    private void Measure(Job job, int status)
    {
        if (job.StartedAt != 0 && CourierMetrics.HandlerDuration.Enabled)
        {
            var tags = new TagList
            {
                { CourierMetrics.SystemNameTag, CourierMetrics.SystemName },
                { CourierMetrics.MethodTag, job.Request.Service },
                { CourierMetrics.StatusTag, StatusText.Of(status) },
                { CourierMetrics.RoleTag, role },
            };
            if (status >= 400)
            {
                tags.Add(CourierMetrics.ErrorTypeTag, StatusText.Of(status));
            }

            CourierMetrics.HandlerDuration.Record(Stopwatch.GetElapsedTime(job.StartedAt).TotalSeconds, tags);
        }

        if (job.Activity is { } activity)
        {
            CourierTracing.Stop(activity, status);
        }
    }

    /// <summary>Awaits a handler off the loop, then hands its outcome over with others that finish meanwhile: one wake-up.</summary>
    private async Task FinishAsync(Job job, ValueTask<IReadOnlyList<ReadOnlyMemory<byte>>> pending)
    {
        HandlerOutcome outcome;
        try
        {
            outcome = Answered(job, await pending.ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (_cancellation.IsCancellationRequested)
        {
            // It started: its effects may have happened, in part. The owner turns this into 503 (run it elsewhere) for an
            // idempotent service only (HandlerOutcome.Stopped).
            outcome = new HandlerOutcome(CourierStatus.OutcomeUnknown, [_stoppedMessage]);
        }
        catch (CourierServiceException ex)
        {
            // An answer the handler chose: its status and message go to the caller as they are.
            outcome = new HandlerOutcome(ex.StatusCode, [Encoding.UTF8.GetBytes(ex.Message)]);
        }
        catch (OperationCanceledException) when (job.Call is { Reason: not CallCancel.None } call)
        {
            // Nobody waits for it any more: its deadline passed, or its caller cancelled. The answer only frees its place.
            outcome = new HandlerOutcome(CourierStatus.DeadlineExceeded, [call.Reason == CallCancel.Deadline ? DeadlineMessage : CancelledMessage]);
        }
#pragma warning disable CA1031 // Whatever a handler throws becomes an error reply; the owner keeps serving.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            outcome = Failed(ex, job.Request.Service, "handler failed");
        }

        Measure(job, outcome.Status);
        _completions.Enqueue((job.Context, outcome, job.Call));
        if (Volatile.Read(ref _loopStopped) != 0)
        {
            // Nothing will take it off the queue now (posts to a stopped loop are dropped): after the enqueue, so that
            // either this or OnLoopStopped sees it.
            AbandonCompletions();
            return;
        }

        if (Interlocked.Exchange(ref _completionsScheduled, 1) == 0)
        {
            loop.Post(_drainCompletions ??= DrainCompletions);
        }
    }

    private void DrainCompletions()
    {
        // A full fence, not a release: with a plain store the queue below could be read before the cleared flag was seen,
        // and a completion enqueued in between found the flag still set, posted no drain, and waited for the next
        // completion (forever, on a quiet server: its caller timed out). Store then load needs the fence, as the loops'.
        Interlocked.Exchange(ref _completionsScheduled, 0);
        while (_completions.TryDequeue(out var completion))
        {
            if (completion.Call is { } call)
            {
                _calls.Remove(call);
            }

            Complete(completion.Context, completion.Outcome);
            Finished();
        }
    }

    /// <summary>
    /// Hands an outcome to the owner. If answering with it fails (a body the handler has since disposed, say), the
    /// request is answered 500 instead; either way the handler's slot is given back.
    /// </summary>
    private void Complete(TContext context, HandlerOutcome outcome)
    {
        try
        {
            complete(context, outcome);
        }
#pragma warning disable CA1031 // The reply could not be built from what the handler returned: that is the handler's failure.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            try
            {
                complete(context, Failed(ex, null, "the reply could not be sent"));
            }
#pragma warning disable CA1031 // Nothing more can be done for this request; the loop and the other requests go on.
            catch (Exception again)
#pragma warning restore CA1031
            {
                LoopGuard.Report(again, logger, "handler reply");
            }
        }
    }

    /// <summary>
    /// What a handler's reply comes to: 200 with it, or 500 for one of more frames than a reply may have, which sent
    /// would be dropped on the way (past the frames a message may have): its caller would only time out.
    /// </summary>
    private HandlerOutcome Answered(Job job, IReadOnlyList<ReadOnlyMemory<byte>>? body)
    {
        body ??= [];
        return body.Count <= MaxReplyFrames
            ? new HandlerOutcome(CourierStatus.Ok, body, job.Request.ReplyHeadersIfAny?.Encode())
            : Failed(
                new InvalidOperationException($"The handler's reply has {body.Count} frames, more than the {MaxReplyFrames} a reply may have (TransportOptions.MaxFramesPerMessage less {Transport.TransportOptions.ReservedFrames})."),
                job.Request.Service, $"the reply of {body.Count} frames exceeds the limit of {MaxReplyFrames}");
    }

    /// <summary>
    /// A 500 that tells the caller only an error id: an exception's type and message can carry internals (paths,
    /// connection strings, names of tables), so they stay in the log, under the same id.
    /// </summary>
    private HandlerOutcome Failed(Exception exception, string? service, string what)
    {
        var errorId = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(6));
        RunnerLog.HandlerFailed(logger, exception, service ?? "(reply)", errorId);
        return new HandlerOutcome(CourierStatus.ServerError, [Encoding.UTF8.GetBytes($"{what}; error id {errorId}")]);
    }

    private void Done(Job job)
    {
        if (job.Call is { } call)
        {
            _calls.Remove(call);
        }
    }

    /// <summary>One handler fewer running: start what waits, or report idle.</summary>
    private void Finished()
    {
        Interlocked.Decrement(ref _inFlight);
        while (_inFlight < maxConcurrency && _queue.TryDequeue(out var next))
        {
            if (_cancellation.IsCancellationRequested)
            {
                // The stop's drain time ran out while it waited: it never ran, so 503 (the client sends it elsewhere),
                // not the 520 of a handler started with a token already fired.
                Done(next);
                Measure(next, CourierStatus.Unavailable);
                Complete(next.Context, new HandlerOutcome(CourierStatus.Unavailable, [StoppedWaitingMessage]));
                continue;
            }

            if (next.Call is { Reason: not CallCancel.None } call)
            {
                // Its deadline passed or its caller cancelled while it waited: nobody waits for it, and it never runs.
                Done(next);
                Measure(next, CourierStatus.DeadlineExceeded);
                Complete(next.Context, new HandlerOutcome(CourierStatus.DeadlineExceeded, [call.Reason == CallCancel.Deadline ? ExpiredWaitingMessage : CancelledWaitingMessage], NeverRan: true));
                continue;
            }

            Start(next);
        }

        if (Idle)
        {
            OnIdle?.Invoke();
        }
    }
}
