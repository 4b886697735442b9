namespace Courier.Serving.Internal;

/// <summary>Why a handler's own token fired.</summary>
internal enum CallCancel
{
    None,

    /// <summary>The request's deadline budget ran out (courier/5).</summary>
    Deadline,

    /// <summary>Its caller sent CANCEL (courier/5).</summary>
    Caller,
}

/// <summary>
/// One running handler of a courier/5 request: the token it was given, which fires at its deadline, when its caller
/// cancels, or when the owner stops. Only such requests get one (a request before courier/5 shares the runner's stop
/// token, as before). Linked in the runner's <see cref="HandlerCalls"/>. Token: any thread; the rest: loop thread.
/// </summary>
internal class HandlerCall(long deadline) : CancellationTokenSource
{
    /// <summary>When its token fires on its own, or <see cref="long.MaxValue"/>.</summary>
    public long Deadline { get; } = deadline;

    public CallCancel Reason { get; private set; }

    internal HandlerCall? Previous;
    internal HandlerCall? Next;
    internal bool Linked;

    /// <summary>Fires the token (its callbacks run on the thread pool, never on the loop) unless it already fired.</summary>
    public void Fire(CallCancel reason)
    {
        if (Reason != CallCancel.None || IsCancellationRequested)
        {
            return;
        }

        Reason = reason;
        _ = CancelAsync();
    }
}

/// <summary>
/// The calls of a runner, in the order they came (each leaves at once when done), and the earliest deadline among those
/// whose token has not fired: a tick before it costs nothing; one at or past it walks the list. Kept in deadline order,
/// a batch of calls with falling budgets cost a walk of the list per call (11,000 calls, some 60 million steps in one
/// loop turn); walked only when one falls due, the list costs a step per call per such tick. Loop thread only.
/// </summary>
internal sealed class HandlerCalls
{
    private HandlerCall? _first;
    private HandlerCall? _last;
    // No call whose token has not fired falls due before this; it may be earlier than any (a call that left since).
    private long _earliest = long.MaxValue;

    /// <summary>Calls visited by <see cref="FireDue"/> so far: what ticks cost (tests).</summary>
    internal long Visits { get; private set; }

    public void Add(HandlerCall call)
    {
        call.Previous = _last;
        call.Next = null;
        if (_last is null)
        {
            _first = call;
        }
        else
        {
            _last.Next = call;
        }

        _last = call;
        call.Linked = true;
        if (call.Deadline < _earliest)
        {
            _earliest = call.Deadline;
        }
    }

    public void Remove(HandlerCall call)
    {
        if (!call.Linked)
        {
            return;
        }

        if (call.Previous is null)
        {
            _first = call.Next;
        }
        else
        {
            call.Previous.Next = call.Next;
        }

        if (call.Next is null)
        {
            _last = call.Previous;
        }
        else
        {
            call.Next.Previous = call.Previous;
        }

        call.Previous = call.Next = null;
        call.Linked = false;
    }

    /// <summary>Fires the tokens of the calls whose deadline has come.</summary>
    public void FireDue(long now)
    {
        if (now < _earliest)
        {
            return;
        }

        var earliest = long.MaxValue;
        for (var call = _first; call is not null; call = call.Next)
        {
            Visits++;
            if (call.Reason != CallCancel.None || call.IsCancellationRequested)
            {
                continue; // fired already: it leaves when its handler returns
            }

            if (call.Deadline <= now)
            {
                call.Fire(CallCancel.Deadline);
            }
            else if (call.Deadline < earliest)
            {
                earliest = call.Deadline;
            }
        }

        _earliest = earliest;
    }

    /// <summary>Fires every call's token: the owner stops.</summary>
    public void CancelAll()
    {
        for (var call = _first; call is not null; call = call.Next)
        {
            if (!call.IsCancellationRequested)
            {
                _ = call.CancelAsync();
            }
        }
    }
}
