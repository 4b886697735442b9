namespace Courier.Transport;

/// <summary>Which ZeroMQ implementation carries Courier's messages. Both speak ZMTP 3 and interoperate on the wire.</summary>
public enum TransportImplementation
{
    /// <summary>Native libzmq when it loads (Debian: <c>libzmq5</c>), else managed NetMQ, saying so in one log line.</summary>
    Auto,

    /// <summary>libzmq 4.3+ through P/Invoke: the fast one. Fails when libzmq cannot be loaded.</summary>
    Native,

    /// <summary>NetMQ, ZeroMQ in C#: nothing to install.</summary>
    Managed,
}
