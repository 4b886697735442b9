namespace Courier.Client.Internal;

/// <summary>
/// Requests a server or broker refused (503: the handler never ran), each waiting out its backoff before it is placed
/// again. Loop thread only.
/// </summary>
internal sealed class RefusedRequests
{
    private readonly List<PendingRequest> _waiting = [];

    /// <summary>
    /// How long the <paramref name="refusals"/>-th refusal of a request waits before it is tried again: 50 ms, doubling
    /// to at most 1 s, less up to a quarter at random, in timestamp units of <paramref name="frequency"/> a second.
    /// Behind nginx (`least_conn`) a fresh connection goes to the server with the fewest, which is the stopping one its
    /// clients just left: retried at every tick, a request used up its attempts on a server that took a second or two to
    /// stop (seen with the container tests on a loaded machine).
    /// </summary>
    public static long Backoff(int refusals, long frequency)
    {
        var ms = Math.Min(1000, 50 << Math.Min(refusals - 1, 5));
        ms -= Random.Shared.Next(ms / 4 + 1);
        return ms * frequency / 1000;
    }

    public void Add(PendingRequest request) => _waiting.Add(request);

    /// <summary>
    /// Those whose backoff is over at <paramref name="now"/>, taken out; those no longer waiting (answered, abandoned, or
    /// placed since) are forgotten. Null when none is due.
    /// </summary>
    public List<PendingRequest>? Due(RequestTable table, long now)
    {
        if (_waiting.Count == 0)
        {
            return null;
        }

        // Compacted in place: those still waiting out their backoff stay, every tick, without a copy of the list.
        var kept = 0;
        List<PendingRequest>? due = null;
        for (var i = 0; i < _waiting.Count; i++)
        {
            var request = _waiting[i];
            if (!table.TryGet(request.Id, out var pending) || !ReferenceEquals(pending, request) || request.Connection is not null)
            {
                continue;
            }

            if (now < request.RetryAt)
            {
                _waiting[kept++] = request;
            }
            else
            {
                (due ??= []).Add(request);
            }
        }

        _waiting.RemoveRange(kept, _waiting.Count - kept);
        return due;
    }
}
