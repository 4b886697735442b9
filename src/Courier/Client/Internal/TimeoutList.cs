namespace Courier.Client.Internal;

/// <summary>A request's place in one <see cref="TimeoutList"/>.</summary>
internal struct TimeoutLinks
{
    public PendingRequest? Previous;
    public PendingRequest? Next;
    public bool Linked;
}

/// <summary>
/// Outstanding requests in the order one kind of timeout falls due. Every attempt gets the same timeout and every
/// request the same deadline, so appending keeps the list sorted and the tick only looks at its head. Unlike a
/// priority queue with lazy deletion, a request leaves the moment it completes: answered requests (and their
/// replies) are not kept alive until their timeout would have passed, which under load filled the older GC
/// generations and stalled the client for tens of milliseconds.
/// </summary>
internal sealed class TimeoutList(TimeoutKind kind)
{
    private PendingRequest? _last;

    public PendingRequest? First { get; private set; }

    /// <summary>When <paramref name="request"/> falls due in this list.</summary>
    public long DueOf(PendingRequest request) => kind == TimeoutKind.Deadline ? request.Deadline : request.AttemptDeadline;

    /// <summary>Appends <paramref name="request"/>, moving it to the end if it was already listed.</summary>
    public void AddLast(PendingRequest request)
    {
        Remove(request);
        ref var links = ref Links(request);
        links.Previous = _last;
        links.Next = null;
        links.Linked = true;
        if (_last is null)
        {
            First = request;
        }
        else
        {
            Links(_last).Next = request;
        }

        _last = request;
    }

    public void Remove(PendingRequest request)
    {
        ref var links = ref Links(request);
        if (!links.Linked)
        {
            return;
        }

        if (links.Previous is null)
        {
            First = links.Next;
        }
        else
        {
            Links(links.Previous).Next = links.Next;
        }

        if (links.Next is null)
        {
            _last = links.Previous;
        }
        else
        {
            Links(links.Next).Previous = links.Previous;
        }

        links = default;
    }

    public void Clear()
    {
        while (First is { } first)
        {
            Remove(first);
        }
    }

    private ref TimeoutLinks Links(PendingRequest request)
        => ref kind == TimeoutKind.Deadline ? ref request.DeadlineLinks : ref request.AttemptLinks;
}

internal enum TimeoutKind
{
    /// <summary>The current attempt's timeout.</summary>
    Attempt,

    /// <summary>The request's overall deadline.</summary>
    Deadline,
}
