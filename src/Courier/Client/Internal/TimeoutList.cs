namespace Courier.Client.Internal;

/// <summary>A request's place in one <see cref="TimeoutList"/>.</summary>
internal struct TimeoutLinks
{
    public PendingRequest? Previous;
    public PendingRequest? Next;
    public bool Linked;
}

/// <summary>
/// Outstanding requests in the order one kind of timeout falls due, so the tick only looks at the head. Every attempt
/// gets the same timeout, so appending keeps the list sorted; most requests share the client's deadline too, so a
/// deadline is inserted from the tail, where it almost always belongs (a request's own shorter one walks back). Unlike a
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
        LinkAfter(_last, request);
    }

    /// <summary>Inserts <paramref name="request"/> after every request due no later than it (walking from the tail).</summary>
    public void AddInOrder(PendingRequest request)
    {
        Remove(request);
        var due = DueOf(request);
        var before = _last;
        while (before is not null && DueOf(before) > due)
        {
            before = Links(before).Previous;
        }

        LinkAfter(before, request);
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

    /// <summary>Links the unlisted <paramref name="request"/> in after <paramref name="before"/> (null: at the head).</summary>
    private void LinkAfter(PendingRequest? before, PendingRequest request)
    {
        var after = before is null ? First : Links(before).Next;
        ref var links = ref Links(request);
        links.Previous = before;
        links.Next = after;
        links.Linked = true;
        if (before is null)
        {
            First = request;
        }
        else
        {
            Links(before).Next = request;
        }

        if (after is null)
        {
            _last = request;
        }
        else
        {
            Links(after).Previous = request;
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
