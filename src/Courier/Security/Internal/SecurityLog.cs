using Microsoft.Extensions.Logging;

namespace Courier.Security.Internal;

internal static partial class SecurityLog
{
    [LoggerMessage(901, LogLevel.Warning, "{Listener}: refused a CURVE handshake from {Address}: {Reason} ({Since} refused since the last such line, {Total} in all)")]
    public static partial void HandshakeDenied(ILogger logger, string listener, string address, string reason, long since, long total);

    [LoggerMessage(902, LogLevel.Warning, "{Listener}: allow-list: {Problem}; that file admits no one")]
    public static partial void BadCertificate(ILogger logger, string listener, string problem);

    [LoggerMessage(903, LogLevel.Information, "{Listener}: policy re-read from {Path}")]
    public static partial void PolicyReloaded(ILogger logger, string listener, string path);

    [LoggerMessage(904, LogLevel.Error, "{Listener}: policy not re-read, the previous one stays in force: {Problem}")]
    public static partial void PolicyNotReloaded(ILogger logger, string listener, string problem);

    [LoggerMessage(905, LogLevel.Warning, "{Listener}: {Peer} may not call {Service}: answered 403 ({Total} refused in all)")]
    public static partial void CallForbidden(ILogger logger, string listener, string peer, string service, long total);

    [LoggerMessage(906, LogLevel.Warning, "{Listener}: worker {Peer} may not serve {Service}: sent DISCONNECT")]
    public static partial void ServeForbidden(ILogger logger, string listener, string peer, string service);

    [LoggerMessage(907, LogLevel.Warning, "{Listener}: allow-list unreadable, no one is admitted until it is back: {Problem}")]
    public static partial void AllowListUnreadable(ILogger logger, string listener, string problem);

    [LoggerMessage(908, LogLevel.Error, "{Listener}: allow-list not checked, the keys in force stay in force until it can be: {Problem}")]
    public static partial void AllowListNotChecked(ILogger logger, string listener, string problem);
}
