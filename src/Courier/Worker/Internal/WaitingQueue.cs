using Courier.Serving.Internal;
using Courier.Transport.Internal;

namespace Courier.Worker.Internal;

/// <summary>
/// A service's requests admitted beyond its concurrency, in arrival order, until a handler's place frees up
/// (<see cref="CourierWorkerOptions.Prefetch"/>). A request its caller cancels while it waits is withdrawn at once
/// (<see cref="Withdraw"/>) and skipped when its turn comes; the queue is rebuilt without such requests once they
/// outnumber its room, so that a broker cancelling what it sends cannot make it grow. A withdrawn entry gives back its
/// native frames at once; its small copied frames stay referenced until its turn or that rebuild, so the managed memory
/// held may reach twice what the live requests hold. Loop thread only, but for <see cref="CountNow"/>.
/// </summary>
internal sealed class WaitingQueue(int room)
{
    private readonly Queue<WaitingRequest> _queue = new();
    private int _withdrawn;
    private int _countNow;
    private long _earliestDeadline = long.MaxValue;

    /// <summary>Requests that may wait here at once.</summary>
    public int Room => room;

    /// <summary>Requests waiting, not counting withdrawn ones.</summary>
    public int Count => _queue.Count - _withdrawn;

    /// <summary><see cref="Count"/>, read from any thread (metrics).</summary>
    public int CountNow => Volatile.Read(ref _countNow);

    /// <summary>Entries held, withdrawn ones included: at most <c>2 × room + 1</c>.</summary>
    internal int Entries => _queue.Count;

    /// <summary>
    /// No request waiting here has a deadline before this (<see cref="long.MaxValue"/> when none has one). It may be
    /// earlier than the earliest still waiting, as a request that starts is not taken out of it: one walk too many.
    /// </summary>
    public long EarliestDeadline => _earliestDeadline;

    public void Add(WaitingRequest request)
    {
        if (request.Call is WaitingCall call)
        {
            call.Queue = this;
            call.Lent = request.Body.Lent;
        }

        if (request.Call is { } withDeadline && withDeadline.Deadline < _earliestDeadline)
        {
            _earliestDeadline = withDeadline.Deadline;
        }

        _queue.Enqueue(request);
        Counted();
    }

    /// <summary>The longest-waiting request not withdrawn, if any; it is no longer waiting.</summary>
    public bool TryTake(out WaitingRequest request)
    {
        while (_queue.TryDequeue(out request))
        {
            if (request.Call is WaitingCall { Withdrawn: true })
            {
                _withdrawn--;
                continue;
            }

            if (request.Call is WaitingCall call)
            {
                call.Queue = null;
            }

            Counted();
            return true;
        }

        _earliestDeadline = long.MaxValue;
        Counted();
        return false;
    }

    /// <summary>
    /// Takes <paramref name="call"/>'s request out of the count and gives its lent frames back; its entry stays until
    /// its turn or the next rebuild. False when it does not wait here (it runs already, or was withdrawn).
    /// </summary>
    public bool Withdraw(WaitingCall call)
    {
        if (!ReferenceEquals(call.Queue, this) || call.Withdrawn)
        {
            return false;
        }

        call.Withdrawn = true;
        call.Queue = null;
        call.Lent.Dispose();
        if (++_withdrawn > room)
        {
            Rebuild(static _ => false, static _ => { });
        }

        Counted();
        return true;
    }

    /// <summary>Removes the requests <paramref name="gone"/> picks, handing each to <paramref name="drop"/>; the rest keep their order.</summary>
    public void Drop(Func<WaitingRequest, bool> gone, Action<WaitingRequest> drop)
    {
        Rebuild(gone, drop);
        Counted();
    }

    private void Rebuild(Func<WaitingRequest, bool> gone, Action<WaitingRequest> drop)
    {
        _earliestDeadline = long.MaxValue;
        for (var left = _queue.Count; left > 0; left--)
        {
            var request = _queue.Dequeue();
            if (request.Call is WaitingCall { Withdrawn: true })
            {
                _withdrawn--;
            }
            else if (gone(request))
            {
                if (request.Call is WaitingCall call)
                {
                    call.Queue = null;
                }

                drop(request);
            }
            else
            {
                _queue.Enqueue(request);
                if (request.Call is { } kept && kept.Deadline < _earliestDeadline)
                {
                    _earliestDeadline = kept.Deadline;
                }
            }
        }
    }

    private void Counted() => Volatile.Write(ref _countNow, Count);
}

/// <summary>A request admitted but not started: what starting it needs, kept in the order it came.</summary>
internal readonly record struct WaitingRequest(WorkerConnection Connection, ReplyAddress Address, LentBody Body, ReadOnlyMemory<byte> Headers, HandlerCall? Call);

/// <summary>A courier/5 request's token (its deadline, its caller's CANCEL), and while it waits, where.</summary>
internal sealed class WaitingCall(long deadline) : HandlerCall(deadline)
{
    /// <summary>The queue it waits in; null once it started or left.</summary>
    public WaitingQueue? Queue { get; set; }

    /// <summary>Its caller cancelled it while it waited: answered then, skipped at its turn.</summary>
    public bool Withdrawn { get; set; }

    /// <summary>Its lent frames, given back when it is withdrawn.</summary>
    public LentFrames Lent { get; set; }
}
