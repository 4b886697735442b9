namespace Courier.Diagnostics.Internal;

/// <summary>The <c>courier.role</c> tag: which part of Courier measured.</summary>
internal static class TelemetryRole
{
    public const string Client = "client";
    public const string Server = "server";
    public const string Broker = "broker";
    public const string Worker = "worker";

    /// <summary>A listening socket of a server or broker, counting its connections against MaxConnections.</summary>
    public const string Listener = "listener";

    /// <summary>The role of a loop, from its thread name (<c>courier-broker</c>, <c>courier-server-NAME</c>, …).</summary>
    public static string OfLoop(string loopName)
        => loopName.StartsWith("courier-broker", StringComparison.Ordinal) ? Broker
        : loopName.StartsWith("courier-server", StringComparison.Ordinal) ? Server
        : loopName.StartsWith("courier-worker", StringComparison.Ordinal) ? Worker
        : Client;
}
