namespace Courier.Worker.Internal;

/// <summary>
/// Services a worker keeps registered over one connection, and what outlives that connection: when to reconnect, the
/// backoff, and since when the broker has been out of reach. A worker starts with one link for all its services; when
/// its broker turns out not to speak courier/4 (docs/protocol.md §3), the link keeps the first service and each other
/// service gets a link, and so a connection, of its own. Loop thread only.
/// </summary>
internal sealed class WorkerLink(IReadOnlyList<WorkerService> services, TimeSpan reconnectDelay)
{
    public IReadOnlyList<WorkerService> Services { get; private set; } = services;

    /// <summary>The current connection; null between losing one and the next attempt.</summary>
    public WorkerConnection? Connection { get; set; }

    /// <summary>When to connect again; <see cref="long.MaxValue"/> while connected.</summary>
    public long ReconnectAt { get; set; } = long.MaxValue;

    /// <summary>The delay before the next reconnect; it doubles per failed attempt, and resets once the broker is heard.</summary>
    public TimeSpan ReconnectDelay { get; set; } = reconnectDelay;

    /// <summary>Reconnects since the broker was last heard from on this link.</summary>
    public int FailedAttempts { get; set; }

    /// <summary>An outage was already reported as a warning: one per outage.</summary>
    public bool OutageReported { get; set; }

    /// <summary>
    /// The service a request is for: the one it names (courier/4), or this link's only service when it names none.
    /// Null when neither applies (a broker's mistake).
    /// </summary>
    public WorkerService? Find(ReadOnlySpan<byte> name)
    {
        if (name.IsEmpty)
        {
            return Services.Count == 1 ? Services[0] : null;
        }

        // By index: asked for every request, and a foreach over the interface allocated an enumerator each time.
        var services = Services;
        for (var i = 0; i < services.Count; i++)
        {
            if (name.SequenceEqual(services[i].NameFrame))
            {
                return services[i];
            }
        }

        return null;
    }

    /// <summary>Keeps only the first service and returns the others, each for a link of its own.</summary>
    public IReadOnlyList<WorkerService> SplitOff()
    {
        var others = Services.Skip(1).ToArray();
        Services = [Services[0]];
        return others;
    }
}
