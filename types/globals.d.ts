type HeadersInit = Headers | Record<string, string> | [string, string][]; // @types/node 20 lacks the fetch global
