using System.Text;

namespace Courier.Server;

/// <summary>The built-in services every Courier server and worker can host.</summary>
public static class CourierServices
{
    /// <summary>Service name of <see cref="Echo"/>.</summary>
    public const string EchoName = "echo";

    /// <summary>Service name of <see cref="WhoAmI"/>.</summary>
    public const string WhoAmIName = "whoami";

    /// <summary><c>echo</c>: replies with the request's frames unchanged.</summary>
    public static CourierHandler Echo { get; } = static (request, _) => ValueTask.FromResult(request.Frames);

    /// <summary><c>whoami</c>: replies with <paramref name="name"/>, the instance's name.</summary>
    public static CourierHandler WhoAmI(string name)
    {
        IReadOnlyList<ReadOnlyMemory<byte>> reply = [Encoding.UTF8.GetBytes(name)];
        return (_, _) => ValueTask.FromResult(reply);
    }

    /// <summary>Wraps <paramref name="handler"/> so each request first takes <paramref name="delay"/>, simulating work.</summary>
    public static CourierHandler WithDelay(CourierHandler handler, TimeSpan delay, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(handler);
        if (delay <= TimeSpan.Zero)
        {
            return handler;
        }

        var clock = timeProvider ?? TimeProvider.System;
        return async (request, cancellationToken) =>
        {
            await Task.Delay(delay, clock, cancellationToken).ConfigureAwait(false);
            return await handler(request, cancellationToken).ConfigureAwait(false);
        };
    }
}
