namespace Viper.Pipelines;

internal static class ListExtensions
{
    /// <summary>Adds <paramref name="item"/> and returns it: keeps a constructor's owned resources in one list for cleanup on failure.</summary>
    public static T Added<T, TList>(this List<TList> list, T item)
        where T : TList
    {
        list.Add(item);
        return item;
    }
}
