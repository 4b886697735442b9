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
/// token, as before). Linked by deadline in the runner's <see cref="HandlerCalls"/>. Token: any thread; the rest: loop thread.
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
/// The calls of a runner in the order their deadlines fall due. Budgets are mostly alike, so a new call usually goes
/// last; it is placed from the end. A finished call leaves at once. Loop thread only.
/// </summary>
internal sealed class HandlerCalls
{
    private HandlerCall? _first;
    private HandlerCall? _last;

    public void Add(HandlerCall call)
    {
        var after = _last;
        while (after is not null && after.Deadline > call.Deadline)
        {
            after = after.Previous;
        }

        call.Previous = after;
        call.Next = after is null ? _first : after.Next;
        if (call.Next is null)
        {
            _last = call;
        }
        else
        {
            call.Next.Previous = call;
        }

        if (after is null)
        {
            _first = call;
        }
        else
        {
            after.Next = call;
        }

        call.Linked = true;
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
        for (var call = _first; call is not null && call.Deadline <= now; call = call.Next)
        {
            call.Fire(CallCancel.Deadline);
        }
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
